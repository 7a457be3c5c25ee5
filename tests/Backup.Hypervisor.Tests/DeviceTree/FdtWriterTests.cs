using System.Buffers.Binary;
using System.Text;
using Backup.Hypervisor.DeviceTree;

namespace Backup.Hypervisor.Tests.DeviceTree;

public class FdtWriterTests
{
    private static uint HeaderField(byte[] blob, int index) => BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(index * 4));

    private static byte[] RootOnly(Action<FdtWriter> body)
    {
        var w = new FdtWriter();
        w.BeginNode("");
        body(w);
        w.EndNode();
        return w.Finish();
    }

    [Fact]
    public void Header_fields_describe_the_layout()
    {
        var w = new FdtWriter { BootCpuIdPhys = 3 };
        w.BeginNode("");
        w.PropertyU32("#address-cells", 2);
        w.BeginNode("chosen");
        w.PropertyString("bootargs", "console=ttyS0");
        w.EndNode();
        w.EndNode();
        var blob = w.Finish();

        Assert.Equal(0xd00dfeedu, HeaderField(blob, 0));
        Assert.Equal((uint)blob.Length, HeaderField(blob, 1));
        var offStruct = HeaderField(blob, 2);
        var offStrings = HeaderField(blob, 3);
        var offRsv = HeaderField(blob, 4);
        Assert.Equal(17u, HeaderField(blob, 5));
        Assert.Equal(16u, HeaderField(blob, 6));
        Assert.Equal(3u, HeaderField(blob, 7));
        var sizeStrings = HeaderField(blob, 8);
        var sizeStruct = HeaderField(blob, 9);

        Assert.Equal(0u, offRsv % 8);
        Assert.True(offRsv >= 40);
        Assert.Equal(offRsv + 16, offStruct); // empty reservation block: only the terminator
        Assert.Equal(0u, offStruct % 4);
        Assert.Equal(0u, sizeStruct % 4);
        Assert.Equal(offStruct + sizeStruct, offStrings);
        Assert.Equal(offStrings + sizeStrings, (uint)blob.Length);
        Assert.Equal(new byte[16], blob.AsSpan((int)offRsv, 16).ToArray());

        // Structure block: FDT_BEGIN_NODE "" ... FDT_END_NODE FDT_END.
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan((int)offStruct)));
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan((int)(offStruct + sizeStruct - 4))));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan((int)(offStruct + sizeStruct - 8))));
        Assert.Equal("#address-cells\0bootargs\0", Encoding.ASCII.GetString(blob, (int)offStrings, (int)sizeStrings));
    }

    [DtcFact]
    public void Empty_root_round_trips_through_dtc()
    {
        var dts = DtsDocument.Decode(RootOnly(_ => { }));
        Assert.Empty(dts.Root.Properties);
        Assert.Empty(dts.Root.Children);
        Assert.Empty(dts.MemoryReservations);
    }

    [DtcFact]
    public void Every_property_kind_decodes_as_written()
    {
        var blob = RootOnly(w =>
        {
            w.PropertyU32("u32", 0xdeadbeef);
            w.PropertyU64("u64", 0x1_2345_6789);
            w.PropertyCells("cells", 1, 2, 0xffffffff);
            w.PropertyString("str", "hello world");
            w.PropertyStringList("list", "sifive,plic-1.0.0", "riscv,plic0", "x");
            w.PropertyEmpty("flag");
            w.Property("bytes3", [0xaa, 0xbb, 0xcc]);
            w.PropertyU32("after-bytes", 7);
            w.PropertyString("empty-string", "");
            w.BeginNode("child@1000");
            w.PropertyPhandle(5);
            w.BeginNode("grandchild");
            w.PropertyU32("ref", 5);
            w.EndNode();
            w.EndNode();
            w.BeginNode("sibling");
            w.EndNode();
        });

        var dts = DtsDocument.Decode(blob);
        var root = dts.Root;
        Assert.Equal(
            ["u32", "u64", "cells", "str", "list", "flag", "bytes3", "after-bytes", "empty-string"],
            root.PropertyNames);
        Assert.Equal(0xdeadbeefu, root.U32("u32"));
        Assert.Equal(0x1_2345_6789UL, root.U64("u64"));
        Assert.Equal([1u, 2u, 0xffffffffu], root.Cells("cells"));
        Assert.Equal("hello world", root.String("str"));
        Assert.Equal(["sifive,plic-1.0.0", "riscv,plic0", "x"], root.Strings("list"));
        Assert.True(root.IsEmpty("flag"));
        Assert.Equal("[aa bb cc]", root.Raw("bytes3"));
        Assert.Equal(7u, root.U32("after-bytes"));
        Assert.Equal("[00]", root.Raw("empty-string")); // dtc prints a lone NUL as bytes
        Assert.Equal(["child@1000", "sibling"], root.ChildNames);
        Assert.Equal(5u, dts["/child@1000"].U32("phandle"));
        Assert.Equal(5u, dts["/child@1000/grandchild"].U32("ref"));
        Assert.Empty(dts["/sibling"].Properties);
    }

    [DtcFact]
    public void Values_and_names_of_every_length_mod_4_stay_aligned()
    {
        var blob = RootOnly(w =>
        {
            for (var length = 0; length <= 9; length++)
            {
                var value = Enumerable.Range(1, length).Select(i => (byte)i).ToArray();
                w.Property("p" + new string('x', length), value);
            }

            for (var length = 1; length <= 9; length++)
            {
                w.BeginNode(new string('n', length));
                w.PropertyU32("v", (uint)length);
                w.EndNode();
            }
        });

        var sizeStruct = HeaderField(blob, 9);
        Assert.Equal(0u, sizeStruct % 4);
        var dts = DtsDocument.Decode(blob);
        for (var length = 0; length <= 9; length++)
        {
            var raw = dts.Root.Raw("p" + new string('x', length));
            if (length == 0)
            {
                Assert.Null(raw);
                continue;
            }

            // dtc prints each value as cells, bytes or strings depending on its content; Bytes() reads any form.
            var bytes = dts.Root.Bytes("p" + new string('x', length));
            Assert.Equal(Enumerable.Range(1, length).Select(i => (byte)i), bytes);
        }

        for (var length = 1; length <= 9; length++)
        {
            Assert.Equal((uint)length, dts["/" + new string('n', length)].U32("v"));
        }
    }

    [Fact]
    public void Strings_block_stores_each_property_name_once()
    {
        var blob = RootOnly(w =>
        {
            w.PropertyU32("#address-cells", 2);
            w.PropertyU32("#size-cells", 2);
            for (var i = 0; i < 5; i++)
            {
                w.BeginNode($"node@{i}");
                w.PropertyU32("#address-cells", 1);
                w.PropertyString("compatible", "x");
                w.PropertyU32("reg", (uint)i);
                w.EndNode();
            }
        });

        var strings = Encoding.ASCII.GetString(blob, (int)HeaderField(blob, 3), (int)HeaderField(blob, 8));
        Assert.Equal("#address-cells\0#size-cells\0compatible\0reg\0", strings);
    }

    [DtcFact]
    public void Memory_reservations_round_trip()
    {
        var w = new FdtWriter();
        w.AddMemoryReservation(0x8000_0000, 0x20_0000);
        w.AddMemoryReservation(0x1_0000_0000, 0x1000);
        w.BeginNode("");
        w.EndNode();
        var blob = w.Finish();

        var offRsv = HeaderField(blob, 4);
        Assert.Equal(offRsv + (3 * 16), HeaderField(blob, 2));
        var dts = DtsDocument.Decode(blob);
        Assert.Equal(2, dts.MemoryReservations.Count);
        Assert.Equal(
            [(0x8000_0000UL, 0x20_0000UL), (0x1_0000_0000UL, 0x1000UL)],
            dts.MemoryReservations.Select(r =>
            {
                var parts = r.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return (Convert.ToUInt64(parts[0], 16), Convert.ToUInt64(parts[1], 16));
            }));
    }

    [Fact]
    public void Allocated_phandles_are_distinct_and_nonzero()
    {
        var w = new FdtWriter();
        var a = w.AllocatePhandle();
        var b = w.AllocatePhandle();
        Assert.NotEqual(0u, a);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Unbalanced_nodes_are_rejected()
    {
        var w = new FdtWriter();
        Assert.Contains("no open node", Assert.Throws<InvalidOperationException>(w.EndNode).Message);

        w.BeginNode("");
        w.BeginNode("a");
        var ex = Assert.Throws<InvalidOperationException>(() => w.Finish());
        Assert.Contains("2 open node(s)", ex.Message);
        Assert.Contains("/a", ex.Message);
    }

    [Fact]
    public void Finish_without_root_is_rejected()
    {
        Assert.Contains("root", Assert.Throws<InvalidOperationException>(() => new FdtWriter().Finish()).Message);
    }

    [Fact]
    public void A_second_root_is_rejected()
    {
        var w = new FdtWriter();
        w.BeginNode("");
        w.EndNode();
        Assert.Contains("exactly one root", Assert.Throws<InvalidOperationException>(() => w.BeginNode("")).Message);
    }

    [Fact]
    public void Root_must_be_unnamed_and_children_named()
    {
        var w = new FdtWriter();
        Assert.Contains("root node", Assert.Throws<ArgumentException>(() => w.BeginNode("soc")).Message);
        w.BeginNode("");
        Assert.Contains("empty name", Assert.Throws<ArgumentException>(() => w.BeginNode("")).Message);
        Assert.Contains("invalid character", Assert.Throws<ArgumentException>(() => w.BeginNode("a b")).Message);
        Assert.Contains("no unit address", Assert.Throws<ArgumentException>(() => w.BeginNode("serial@")).Message);
        Assert.Contains("1..31", Assert.Throws<ArgumentException>(() => w.BeginNode(new string('a', 32))).Message);
    }

    [Fact]
    public void Property_after_child_is_rejected()
    {
        var w = new FdtWriter();
        w.BeginNode("");
        w.BeginNode("cpus");
        w.EndNode();
        var ex = Assert.Throws<InvalidOperationException>(() => w.PropertyU32("#address-cells", 2));
        Assert.Contains("after a child node", ex.Message);
        Assert.Contains("'/'", ex.Message);
    }

    [Fact]
    public void Bad_property_names_and_duplicates_are_rejected()
    {
        var w = new FdtWriter();
        Assert.Contains("outside any node", Assert.Throws<InvalidOperationException>(() => w.PropertyEmpty("x")).Message);
        w.BeginNode("");
        Assert.Contains("empty name", Assert.Throws<ArgumentException>(() => w.PropertyEmpty("")).Message);
        Assert.Contains("invalid character", Assert.Throws<ArgumentException>(() => w.PropertyEmpty("a=b")).Message);
        Assert.Contains("longer than 31", Assert.Throws<ArgumentException>(() => w.PropertyEmpty(new string('p', 32))).Message);
        w.PropertyU32("reg", 1);
        Assert.Contains("already has a property", Assert.Throws<InvalidOperationException>(() => w.PropertyU32("reg", 2)).Message);
        Assert.Contains("NUL", Assert.Throws<ArgumentException>(() => w.PropertyString("s", "a\0b")).Message);
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => w.PropertyStringList("s")).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.PropertyPhandle(0));
        w.BeginNode("a");
        w.EndNode();
        Assert.Contains("already has a child", Assert.Throws<InvalidOperationException>(() => w.BeginNode("a")).Message);
    }

    [Fact]
    public void Writer_cannot_be_used_after_finish()
    {
        var w = new FdtWriter();
        w.BeginNode("");
        w.EndNode();
        w.Finish();
        Assert.Contains("already finished", Assert.Throws<InvalidOperationException>(() => w.Finish()).Message);
        Assert.Throws<InvalidOperationException>(() => w.BeginNode(""));
    }

    [Fact]
    public void Zero_size_memory_reservation_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FdtWriter().AddMemoryReservation(0x1000, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FdtWriter().AddMemoryReservation(ulong.MaxValue, 2));
    }
}

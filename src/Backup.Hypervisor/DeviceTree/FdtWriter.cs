using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Backup.Hypervisor.DeviceTree;

/// <summary>
/// Builds a flattened device tree blob (DTB format version 17, last compatible version 16), as described by the
/// Devicetree Specification chapter 5. Usage: <see cref="BeginNode"/>("") for the root, then properties and child
/// nodes, <see cref="EndNode"/> for every node, then <see cref="Finish"/>.
/// </summary>
/// <remarks>
/// Rules enforced while building (each violation throws <see cref="InvalidOperationException"/> or
/// <see cref="ArgumentException"/> naming the node path): exactly one root node, named "" ; every other node has a
/// non-empty name of valid characters, unique among its siblings; properties come before the first child node of
/// their node and are unique within it; nodes are balanced when <see cref="Finish"/> is called.
/// All integers are big-endian; the structure block is padded to 4 bytes after every name and value.
/// </remarks>
public sealed class FdtWriter
{
    /// <summary>FDT header magic.</summary>
    public const uint Magic = 0xd00dfeed;

    /// <summary>Format version written in the header.</summary>
    public const uint Version = 17;

    /// <summary>Oldest format version this blob is backwards compatible with.</summary>
    public const uint LastCompatibleVersion = 16;

    /// <summary>Size of the version 17 header in bytes.</summary>
    public const int HeaderSize = 40;

    private const uint TokenBeginNode = 1;
    private const uint TokenEndNode = 2;
    private const uint TokenProp = 3;
    private const uint TokenEnd = 9;

    /// <summary>Maximum length of a node name (without the unit address) and of a property name.</summary>
    private const int MaxNameLength = 31;

    private readonly ArrayBufferWriter<byte> _structure = new();
    private readonly ArrayBufferWriter<byte> _strings = new();
    private readonly Dictionary<string, int> _stringOffsets = new(StringComparer.Ordinal);
    private readonly List<(ulong Address, ulong Size)> _reservations = [];
    private readonly Stack<OpenNode> _open = new();
    private bool _rootWritten;
    private bool _finished;
    private uint _nextPhandle = 1;

    /// <summary>Physical id of the boot CPU, written as boot_cpuid_phys in the header.</summary>
    public uint BootCpuIdPhys { get; set; }

    /// <summary>Number of nodes currently open (0 before the root and after it is closed).</summary>
    public int Depth => _open.Count;

    /// <summary>Adds an entry to the memory reservation block (regions the OS must not use).</summary>
    public void AddMemoryReservation(ulong address, ulong size)
    {
        EnsureNotFinished();
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "A memory reservation must have a non-zero size (a zero entry terminates the block)");
        }

        if (address + size < address)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"Memory reservation [0x{address:x}, +0x{size:x}) wraps around the 64-bit address space");
        }

        _reservations.Add((address, size));
    }

    /// <summary>Returns a fresh phandle value (1, 2, ...) that no other call of this writer returned.</summary>
    public uint AllocatePhandle() => _nextPhandle++;

    /// <summary>Opens a node. The first node must be the root, named "" ; others need a valid non-empty name.</summary>
    public void BeginNode(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        EnsureNotFinished();
        if (_open.Count == 0)
        {
            if (_rootWritten)
            {
                throw new InvalidOperationException($"The root node is already closed; cannot begin node '{name}' (a tree has exactly one root)");
            }

            if (name.Length != 0)
            {
                throw new ArgumentException($"The first node must be the root node, named \"\" (got '{name}')", nameof(name));
            }

            _rootWritten = true;
            _open.Push(new OpenNode("/"));
        }
        else
        {
            var parent = _open.Peek();
            ValidateNodeName(name, parent.Path);
            if (!parent.ChildNames.Add(name))
            {
                throw new InvalidOperationException($"Node '{parent.Path}' already has a child named '{name}'");
            }

            parent.HasChildren = true;
            _open.Push(new OpenNode(parent.Path == "/" ? "/" + name : parent.Path + "/" + name));
        }

        WriteToken(TokenBeginNode);
        WriteNulTerminatedPadded(name);
    }

    /// <summary>Closes the innermost open node.</summary>
    public void EndNode()
    {
        EnsureNotFinished();
        if (_open.Count == 0)
        {
            throw new InvalidOperationException("EndNode called with no open node (unbalanced BeginNode/EndNode)");
        }

        _open.Pop();
        WriteToken(TokenEndNode);
    }

    /// <summary>Adds a property with a raw value to the innermost open node.</summary>
    public void Property(string name, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(name);
        EnsureNotFinished();
        if (_open.Count == 0)
        {
            throw new InvalidOperationException($"Property '{name}' written outside any node");
        }

        var node = _open.Peek();
        ValidatePropertyName(name, node.Path);
        if (node.HasChildren)
        {
            throw new InvalidOperationException($"Property '{name}' of node '{node.Path}' comes after a child node; properties must precede child nodes");
        }

        if (!node.PropertyNames.Add(name))
        {
            throw new InvalidOperationException($"Node '{node.Path}' already has a property named '{name}'");
        }

        WriteToken(TokenProp);
        WriteU32((uint)value.Length);
        WriteU32((uint)GetStringOffset(name));
        _structure.Write(value);
        Pad4(_structure);
    }

    /// <summary>Adds a property with no value (a boolean flag such as interrupt-controller or ranges).</summary>
    public void PropertyEmpty(string name) => Property(name, []);

    /// <summary>Adds a single-cell (32-bit big-endian) property.</summary>
    public void PropertyU32(string name, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, value);
        Property(name, buffer);
    }

    /// <summary>Adds a two-cell (64-bit big-endian) property.</summary>
    public void PropertyU64(string name, ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(buffer, value);
        Property(name, buffer);
    }

    /// <summary>Adds a property that is an array of 32-bit cells (prop-encoded-array, e.g. reg or interrupts-extended).</summary>
    public void PropertyCells(string name, params ReadOnlySpan<uint> cells)
    {
        var buffer = new byte[cells.Length * 4];
        for (var i = 0; i < cells.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(i * 4), cells[i]);
        }

        Property(name, buffer);
    }

    /// <summary>Adds a NUL-terminated string property.</summary>
    public void PropertyString(string name, string value) => PropertyStringList(name, value);

    /// <summary>Adds a string-list property: each string NUL-terminated, concatenated (e.g. compatible).</summary>
    public void PropertyStringList(string name, params ReadOnlySpan<string> values)
    {
        if (values.Length == 0)
        {
            throw new ArgumentException($"String-list property '{name}' needs at least one string", nameof(values));
        }

        var buffer = new ArrayBufferWriter<byte>();
        foreach (var value in values)
        {
            ArgumentNullException.ThrowIfNull(value, nameof(values));
            if (value.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"String value of property '{name}' contains a NUL character", nameof(values));
            }

            buffer.Write(Encoding.UTF8.GetBytes(value));
            buffer.Write<byte>([0]);
        }

        Property(name, buffer.WrittenSpan);
    }

    /// <summary>Adds the node's own "phandle" property with the given value (non-zero, not 0xffffffff).</summary>
    public void PropertyPhandle(uint phandle)
    {
        if (phandle == 0 || phandle == uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(phandle), phandle, "A phandle must not be 0 or 0xffffffff");
        }

        PropertyU32("phandle", phandle);
    }

    /// <summary>
    /// Completes the blob: checks all nodes are closed, appends FDT_END and lays out header, memory reservation
    /// block, structure block and strings block. The writer cannot be used afterwards.
    /// </summary>
    public byte[] Finish()
    {
        EnsureNotFinished();
        if (!_rootWritten)
        {
            throw new InvalidOperationException("Finish called before any node was written (a device tree needs a root node)");
        }

        if (_open.Count != 0)
        {
            throw new InvalidOperationException($"Finish called with {_open.Count} open node(s), innermost '{_open.Peek().Path}' (unbalanced BeginNode/EndNode)");
        }

        WriteToken(TokenEnd);
        _finished = true;

        var offMemRsvmap = Align(HeaderSize, 8);
        var rsvmapSize = (_reservations.Count + 1) * 16;
        var offStruct = offMemRsvmap + rsvmapSize;
        var sizeStruct = _structure.WrittenCount;
        var offStrings = offStruct + sizeStruct;
        var sizeStrings = _strings.WrittenCount;
        var totalSize = Align(offStrings + sizeStrings, 4);

        var blob = new byte[totalSize];
        var span = blob.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span[0..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)totalSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)offStruct);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)offStrings);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)offMemRsvmap);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], LastCompatibleVersion);
        BinaryPrimitives.WriteUInt32BigEndian(span[28..], BootCpuIdPhys);
        BinaryPrimitives.WriteUInt32BigEndian(span[32..], (uint)sizeStrings);
        BinaryPrimitives.WriteUInt32BigEndian(span[36..], (uint)sizeStruct);

        var offset = offMemRsvmap;
        foreach (var (address, size) in _reservations)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[offset..], address);
            BinaryPrimitives.WriteUInt64BigEndian(span[(offset + 8)..], size);
            offset += 16;
        }

        // The terminating all-zero entry is already zero in the fresh array.
        _structure.WrittenSpan.CopyTo(span[offStruct..]);
        _strings.WrittenSpan.CopyTo(span[offStrings..]);
        return blob;
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static void ValidateNodeName(string name, string parentPath)
    {
        if (name.Length == 0)
        {
            throw new ArgumentException($"Child node of '{parentPath}' has an empty name (only the root node is unnamed)", nameof(name));
        }

        var at = name.IndexOf('@', StringComparison.Ordinal);
        var baseName = at < 0 ? name : name[..at];
        var unitAddress = at < 0 ? string.Empty : name[(at + 1)..];
        if (baseName.Length == 0 || baseName.Length > MaxNameLength)
        {
            throw new ArgumentException($"Node name '{name}' under '{parentPath}': the part before '@' must be 1..{MaxNameLength} characters", nameof(name));
        }

        if (at >= 0 && unitAddress.Length == 0)
        {
            throw new ArgumentException($"Node name '{name}' under '{parentPath}' has an '@' but no unit address", nameof(name));
        }

        foreach (var c in baseName)
        {
            if (!IsNodeNameChar(c))
            {
                throw new ArgumentException($"Node name '{name}' under '{parentPath}' contains invalid character '{c}'", nameof(name));
            }
        }

        foreach (var c in unitAddress)
        {
            if (!IsNodeNameChar(c))
            {
                throw new ArgumentException($"Unit address of node '{name}' under '{parentPath}' contains invalid character '{c}'", nameof(name));
            }
        }
    }

    private static void ValidatePropertyName(string name, string nodePath)
    {
        if (name.Length == 0)
        {
            throw new ArgumentException($"Property of node '{nodePath}' has an empty name", nameof(name));
        }

        if (name.Length > MaxNameLength)
        {
            throw new ArgumentException($"Property name '{name}' of node '{nodePath}' is longer than {MaxNameLength} characters", nameof(name));
        }

        foreach (var c in name)
        {
            if (!IsPropertyNameChar(c))
            {
                throw new ArgumentException($"Property name '{name}' of node '{nodePath}' contains invalid character '{c}'", nameof(name));
            }
        }
    }

    private static bool IsNodeNameChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is ',' or '.' or '_' or '+' or '-';

    private static bool IsPropertyNameChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is ',' or '.' or '_' or '+' or '?' or '#' or '-';

    private static void Pad4(ArrayBufferWriter<byte> buffer)
    {
        var padding = (4 - (buffer.WrittenCount & 3)) & 3;
        buffer.GetSpan(padding)[..padding].Clear();
        buffer.Advance(padding);
    }

    private int GetStringOffset(string name)
    {
        if (_stringOffsets.TryGetValue(name, out var offset))
        {
            return offset;
        }

        offset = _strings.WrittenCount;
        _strings.Write(Encoding.ASCII.GetBytes(name));
        _strings.Write<byte>([0]);
        _stringOffsets.Add(name, offset);
        return offset;
    }

    private void WriteNulTerminatedPadded(string name)
    {
        _structure.Write(Encoding.ASCII.GetBytes(name));
        _structure.Write<byte>([0]);
        Pad4(_structure);
    }

    private void WriteToken(uint token) => WriteU32(token);

    private void WriteU32(uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, value);
        _structure.Write(buffer);
    }

    private void EnsureNotFinished()
    {
        if (_finished)
        {
            throw new InvalidOperationException("The device tree was already finished; create a new FdtWriter");
        }
    }

    private sealed class OpenNode(string path)
    {
        public string Path { get; } = path;

        public bool HasChildren { get; set; }

        public HashSet<string> ChildNames { get; } = new(StringComparer.Ordinal);

        public HashSet<string> PropertyNames { get; } = new(StringComparer.Ordinal);
    }
}

using Backup.Hypervisor.Cpu;
using static Backup.Hypervisor.Tests.Translation.RiscvEncoder;

namespace Backup.Hypervisor.Tests.Translation;

/// <summary>The generator's compressed encodings expand to the instructions they are meant to be (checked against the hart's expander).</summary>
public sealed class RiscvEncoderTests
{
    [Fact]
    public void Compressed_encodings_expand_to_their_base_instructions()
    {
        Assert.Equal(I(0x13, 0, 9, 9, -5), CompressedExpander.Expand(CI(0, 1, 9, -5)));
        Assert.Equal(I(0x13, 0, 17, 0, 31), CompressedExpander.Expand(CI(2, 1, 17, 31)));
        Assert.Equal(I(0x1B, 0, 5, 5, -32), CompressedExpander.Expand(CI(1, 1, 5, -32)));
        Assert.Equal(I(0x13, 1, 7, 7, 45), CompressedExpander.Expand(CI(0, 2, 7, 45)));
        Assert.Equal(R(0x33, 0, 0, 6, 0, 20), CompressedExpander.Expand(CR(false, 6, 20)));
        Assert.Equal(R(0x33, 0, 0, 6, 6, 20), CompressedExpander.Expand(CR(true, 6, 20)));
        Assert.Equal(I(0x13, 5, 12, 12, 33), CompressedExpander.Expand(CB(0, 12, 33)));
        Assert.Equal(I(0x13, 5, 12, 12, 0x400 | 3), CompressedExpander.Expand(CB(1, 12, 3)));
        Assert.Equal(I(0x13, 7, 15, 15, -7), CompressedExpander.Expand(CB(2, 15, -7)));
        Assert.Equal(R(0x33, 0, 0x20, 8, 8, 9), CompressedExpander.Expand(CA(false, 0, 8, 9)));
        Assert.Equal(R(0x33, 4, 0, 8, 8, 9), CompressedExpander.Expand(CA(false, 1, 8, 9)));
        Assert.Equal(R(0x33, 6, 0, 8, 8, 9), CompressedExpander.Expand(CA(false, 2, 8, 9)));
        Assert.Equal(R(0x33, 7, 0, 8, 8, 9), CompressedExpander.Expand(CA(false, 3, 8, 9)));
        Assert.Equal(R(0x3B, 0, 0x20, 10, 10, 11), CompressedExpander.Expand(CA(true, 0, 10, 11)));
        Assert.Equal(R(0x3B, 0, 0, 10, 10, 11), CompressedExpander.Expand(CA(true, 1, 10, 11)));
        Assert.Equal(I(0x03, 3, 20, 2, 488), CompressedExpander.Expand(Ldsp(20, 488)));
        Assert.Equal(I(0x03, 2, 20, 2, 244), CompressedExpander.Expand(Lwsp(20, 244)));
        Assert.Equal(S(3, 2, 21, 496), CompressedExpander.Expand(Sdsp(21, 496)));
        Assert.Equal(S(2, 2, 21, 252), CompressedExpander.Expand(Swsp(21, 252)));
        Assert.Equal(B(0, 13, 0, 118), CompressedExpander.Expand(CBranch(false, 13, 118)));
        Assert.Equal(B(1, 13, 0, -256), CompressedExpander.Expand(CBranch(true, 13, -256)));
        Assert.Equal(J(0, 1366), CompressedExpander.Expand(CJ(1366)));
        Assert.Equal(J(0, -2048), CompressedExpander.Expand(CJ(-2048)));
    }
}

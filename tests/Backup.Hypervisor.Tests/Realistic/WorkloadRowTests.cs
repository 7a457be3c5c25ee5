namespace Backup.Hypervisor.Tests.Realistic;

/// <summary>The host's row definition against the test vectors published in docs/guest.md.</summary>
public sealed class WorkloadRowTests
{
    [Theory]
    [InlineData(1L, 264, "67ec8e65a18debbe", 0xbbe49d0688c28297UL, -4907625042537184617L)]
    [InlineData(2L, 262, "421efc0b1046c8bf", 0xf1ff38f29d990c1eUL, -1009025176830407650L)]
    public void The_documented_vectors_hold(long seq, int length, string firstBytes, ulong checksum, long stored)
    {
        byte[] payload = WorkloadRow.Payload(seq);
        Assert.Equal(length, payload.Length);
        Assert.Equal(firstBytes, Convert.ToHexStringLower(payload.AsSpan(0, 8)));
        Assert.Equal(checksum, WorkloadRow.Checksum(seq, payload));
        Assert.Equal(stored, WorkloadRow.StoredChecksum(seq, payload));
    }

    [Fact]
    public void Every_payload_length_is_in_range_and_a_changed_byte_changes_the_checksum()
    {
        for (long seq = 1; seq <= 2000; seq++)
        {
            byte[] payload = WorkloadRow.Payload(seq);
            Assert.InRange(payload.Length, WorkloadRow.PayloadMin, WorkloadRow.PayloadMax);
            ulong good = WorkloadRow.Checksum(seq, payload);
            payload[seq % payload.Length] ^= 1;
            Assert.NotEqual(good, WorkloadRow.Checksum(seq, payload));
            Assert.NotEqual(good, WorkloadRow.Checksum(seq + 1, WorkloadRow.Payload(seq)));
        }
    }
}

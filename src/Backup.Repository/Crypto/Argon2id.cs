using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backup.Repository.Crypto;

/// <summary>
/// Argon2id, version 0x13 (RFC 9106), without secret or associated data: the key file's password hash (format §3).
/// Lanes are filled in parallel, one thread per lane and slice. Written for speed on the appliance (every command that
/// opens a repository pays it); checked against the RFC's test vector and an independent implementation in the tests.
/// </summary>
internal static class Argon2id
{
    private const int BlockWords = 128;
    private const int SyncPoints = 4;
    private const int AddressesPerBlock = 128;
    private const uint Version = 0x13;
    private const uint TypeId = 2;

    /// <summary>Derives <paramref name="output"/>.Length bytes (at least 4) from <paramref name="password"/> and <paramref name="salt"/>.</summary>
    public static void Derive(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int memoryKiB, int iterations, int parallelism, Span<byte> output) =>
        Derive(password, salt, [], [], memoryKiB, iterations, parallelism, output);

    /// <summary>Argon2id with a secret and associated data (the RFC's full form; used by the test vector).</summary>
    public static void Derive(
        ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> associatedData, int memoryKiB, int iterations, int parallelism, Span<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parallelism, 0xFFFFFF);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryKiB, 8 * parallelism);
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, 4);

        var initial = new byte[72];
        var h0 = new Blake2b(64);
        h0.Update((uint)parallelism);
        h0.Update((uint)output.Length);
        h0.Update((uint)memoryKiB);
        h0.Update((uint)iterations);
        h0.Update(Version);
        h0.Update(TypeId);
        h0.Update((uint)password.Length);
        h0.Update(password);
        h0.Update((uint)salt.Length);
        h0.Update(salt);
        h0.Update((uint)secret.Length);
        h0.Update(secret);
        h0.Update((uint)associatedData.Length);
        h0.Update(associatedData);
        h0.Finish(initial.AsSpan(0, 64));

        var lanes = parallelism;
        var blocks = 4 * lanes * (memoryKiB / (4 * lanes));
        var laneLength = blocks / lanes;
        var segmentLength = laneLength / SyncPoints;
        var memory = GC.AllocateUninitializedArray<ulong>(blocks * BlockWords);
        try
        {
            var bytes = new byte[1024];
            for (var lane = 0; lane < lanes; lane++)
            {
                for (var first = 0; first < 2; first++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(initial.AsSpan(64), (uint)first);
                    BinaryPrimitives.WriteUInt32LittleEndian(initial.AsSpan(68), (uint)lane);
                    VariableHash(initial, bytes);
                    var block = memory.AsSpan(((lane * laneLength) + first) * BlockWords, BlockWords);
                    for (var i = 0; i < BlockWords; i++)
                    {
                        block[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8 * i));
                    }
                }
            }

            var shape = new Shape(lanes, laneLength, segmentLength, (uint)blocks, (uint)iterations);
            for (var pass = 0; pass < iterations; pass++)
            {
                for (var slice = 0; slice < SyncPoints; slice++)
                {
                    if (lanes == 1)
                    {
                        FillSegment(memory, shape, pass, 0, slice);
                    }
                    else
                    {
                        var (p, s) = (pass, slice);
                        Parallel.For(0, lanes, lane => FillSegment(memory, shape, p, lane, s));
                    }
                }
            }

            var final = new ulong[BlockWords];
            for (var lane = 0; lane < lanes; lane++)
            {
                var last = memory.AsSpan((((lane + 1) * laneLength) - 1) * BlockWords, BlockWords);
                for (var i = 0; i < BlockWords; i++)
                {
                    final[i] ^= last[i];
                }
            }

            for (var i = 0; i < BlockWords; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), final[i]);
            }

            VariableHash(bytes, output);
            Array.Clear(final);
            Array.Clear(bytes);
            Array.Clear(initial);
        }
        finally
        {
            Array.Clear(memory);
        }
    }

    /// <summary>H' of RFC 9106 §3.3: a hash of any output length built from BLAKE2b.</summary>
    private static void VariableHash(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length <= 64)
        {
            var hash = new Blake2b(output.Length);
            hash.Update((uint)output.Length);
            hash.Update(input);
            hash.Finish(output);
            return;
        }

        Span<byte> v = stackalloc byte[64];
        var first = new Blake2b(64);
        first.Update((uint)output.Length);
        first.Update(input);
        first.Finish(v);
        v[..32].CopyTo(output);
        var written = 32;
        while (output.Length - written > 64)
        {
            Blake2b.Hash(v, v);
            v[..32].CopyTo(output[written..]);
            written += 32;
        }

        var rest = output.Length - written;
        Span<byte> last = stackalloc byte[64];
        Blake2b.Hash(v, last[..rest]);
        last[..rest].CopyTo(output[written..]);
    }

    private static void FillSegment(ulong[] memory, Shape shape, int pass, int lane, int slice)
    {
        var dataIndependent = pass == 0 && slice < SyncPoints / 2;
        ulong[]? address = null;
        ulong[]? input = null;
        ulong[]? zero = null;
        if (dataIndependent)
        {
            address = new ulong[BlockWords];
            input = new ulong[BlockWords];
            zero = new ulong[BlockWords];
            input[0] = (ulong)pass;
            input[1] = (ulong)lane;
            input[2] = (ulong)slice;
            input[3] = shape.Blocks;
            input[4] = shape.Passes;
            input[5] = TypeId;
        }

        var start = 0;
        if (pass == 0 && slice == 0)
        {
            start = 2;
            if (dataIndependent)
            {
                NextAddresses(address!, input!, zero!);
            }
        }

        var laneLength = shape.LaneLength;
        var current = (lane * laneLength) + (slice * shape.SegmentLength) + start;
        var previous = current % laneLength == 0 ? current + laneLength - 1 : current - 1;
        var scratch = new ulong[2 * BlockWords];
        for (var index = start; index < shape.SegmentLength; index++, current++, previous++)
        {
            if (current % laneLength == 1)
            {
                previous = current - 1;
            }

            ulong pseudoRandom;
            if (dataIndependent)
            {
                if (index % AddressesPerBlock == 0)
                {
                    NextAddresses(address!, input!, zero!);
                }

                pseudoRandom = address![index % AddressesPerBlock];
            }
            else
            {
                pseudoRandom = memory[previous * BlockWords];
            }

            var referenceLane = (int)((pseudoRandom >> 32) % (ulong)shape.Lanes);
            if (pass == 0 && slice == 0)
            {
                referenceLane = lane;
            }

            var referenceIndex = ReferenceIndex(shape, pass, slice, index, (uint)pseudoRandom, referenceLane == lane);
            var reference = (referenceLane * laneLength) + referenceIndex;
            FillBlock(
                memory.AsSpan(previous * BlockWords, BlockWords),
                memory.AsSpan(reference * BlockWords, BlockWords),
                memory.AsSpan(current * BlockWords, BlockWords),
                withXor: pass != 0,
                scratch);
        }
    }

    private static int ReferenceIndex(Shape shape, int pass, int slice, int index, uint pseudoRandom, bool sameLane)
    {
        uint area;
        if (pass == 0)
        {
            area = slice == 0
                ? (uint)(index - 1)
                : sameLane
                    ? (uint)((slice * shape.SegmentLength) + index - 1)
                    : (uint)((slice * shape.SegmentLength) + (index == 0 ? -1 : 0));
        }
        else
        {
            area = sameLane
                ? (uint)(shape.LaneLength - shape.SegmentLength + index - 1)
                : (uint)(shape.LaneLength - shape.SegmentLength + (index == 0 ? -1 : 0));
        }

        ulong relative = pseudoRandom;
        relative = (relative * relative) >> 32;
        relative = area - 1 - ((area * relative) >> 32);
        var startPosition = pass != 0 && slice != SyncPoints - 1 ? (ulong)((slice + 1) * shape.SegmentLength) : 0;
        return (int)((startPosition + relative) % (ulong)shape.LaneLength);
    }

    private static void NextAddresses(ulong[] address, ulong[] input, ulong[] zero)
    {
        input[6]++;
        var scratch = new ulong[2 * BlockWords];
        FillBlock(zero, input, address, withXor: false, scratch);
        FillBlock(zero, address, address, withXor: false, scratch);
    }

    /// <summary>The compression function G of RFC 9106 §3.5: next = P(prev ⊕ ref) ⊕ (prev ⊕ ref) [⊕ next, from the second pass].</summary>
    private static void FillBlock(ReadOnlySpan<ulong> previous, ReadOnlySpan<ulong> reference, Span<ulong> next, bool withXor, ulong[] scratch)
    {
        var r = scratch.AsSpan(0, BlockWords);
        var keep = scratch.AsSpan(BlockWords, BlockWords);
        for (var i = 0; i < BlockWords; i++)
        {
            r[i] = previous[i] ^ reference[i];
        }

        if (withXor)
        {
            for (var i = 0; i < BlockWords; i++)
            {
                keep[i] = r[i] ^ next[i];
            }
        }
        else
        {
            r.CopyTo(keep);
        }

        for (var i = 0; i < 8; i++)
        {
            var row = 16 * i;
            Round(
                ref r[row], ref r[row + 1], ref r[row + 2], ref r[row + 3], ref r[row + 4], ref r[row + 5], ref r[row + 6], ref r[row + 7],
                ref r[row + 8], ref r[row + 9], ref r[row + 10], ref r[row + 11], ref r[row + 12], ref r[row + 13], ref r[row + 14], ref r[row + 15]);
        }

        for (var i = 0; i < 8; i++)
        {
            var column = 2 * i;
            Round(
                ref r[column], ref r[column + 1], ref r[column + 16], ref r[column + 17], ref r[column + 32], ref r[column + 33], ref r[column + 48], ref r[column + 49],
                ref r[column + 64], ref r[column + 65], ref r[column + 80], ref r[column + 81], ref r[column + 96], ref r[column + 97], ref r[column + 112], ref r[column + 113]);
        }

        for (var i = 0; i < BlockWords; i++)
        {
            next[i] = keep[i] ^ r[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(
        ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3, ref ulong v4, ref ulong v5, ref ulong v6, ref ulong v7,
        ref ulong v8, ref ulong v9, ref ulong v10, ref ulong v11, ref ulong v12, ref ulong v13, ref ulong v14, ref ulong v15)
    {
        Mix(ref v0, ref v4, ref v8, ref v12);
        Mix(ref v1, ref v5, ref v9, ref v13);
        Mix(ref v2, ref v6, ref v10, ref v14);
        Mix(ref v3, ref v7, ref v11, ref v15);
        Mix(ref v0, ref v5, ref v10, ref v15);
        Mix(ref v1, ref v6, ref v11, ref v12);
        Mix(ref v2, ref v7, ref v8, ref v13);
        Mix(ref v3, ref v4, ref v9, ref v14);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix(ref ulong a, ref ulong b, ref ulong c, ref ulong d)
    {
        a = a + b + (2 * (ulong)(uint)a * (uint)b);
        d = BitOperations.RotateRight(d ^ a, 32);
        c = c + d + (2 * (ulong)(uint)c * (uint)d);
        b = BitOperations.RotateRight(b ^ c, 24);
        a = a + b + (2 * (ulong)(uint)a * (uint)b);
        d = BitOperations.RotateRight(d ^ a, 16);
        c = c + d + (2 * (ulong)(uint)c * (uint)d);
        b = BitOperations.RotateRight(b ^ c, 63);
    }

    private readonly record struct Shape(int Lanes, int LaneLength, int SegmentLength, uint Blocks, uint Passes);
}

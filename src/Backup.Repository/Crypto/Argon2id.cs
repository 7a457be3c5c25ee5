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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void FillBlock(ReadOnlySpan<ulong> previous, ReadOnlySpan<ulong> reference, Span<ulong> next, bool withXor, ulong[] scratch)
    {
        if (previous.Length != BlockWords || reference.Length != BlockWords || next.Length != BlockWords || scratch.Length != 2 * BlockWords)
        {
            throw new ArgumentException("Argon2 blocks are 128 words");
        }

        fixed (ulong* p = previous, q = reference, n = next, r = scratch)
        {
            var keep = r + BlockWords;
            for (var i = 0; i < BlockWords; i++)
            {
                r[i] = p[i] ^ q[i];
            }

            if (withXor)
            {
                for (var i = 0; i < BlockWords; i++)
                {
                    keep[i] = r[i] ^ n[i];
                }
            }
            else
            {
                for (var i = 0; i < BlockWords; i++)
                {
                    keep[i] = r[i];
                }
            }

            for (var row = 0; row < BlockWords; row += 16)
            {
                var v = r + row;
                Mix(v, v + 4, v + 8, v + 12);
                Mix(v + 1, v + 5, v + 9, v + 13);
                Mix(v + 2, v + 6, v + 10, v + 14);
                Mix(v + 3, v + 7, v + 11, v + 15);
                Mix(v, v + 5, v + 10, v + 15);
                Mix(v + 1, v + 6, v + 11, v + 12);
                Mix(v + 2, v + 7, v + 8, v + 13);
                Mix(v + 3, v + 4, v + 9, v + 14);
            }

            // Columns: logical word k of column c is physical word 2c + (k / 2) * 16 + k % 2.
            for (var column = 0; column < 16; column += 2)
            {
                var v = r + column;
                Mix(v, v + 32, v + 64, v + 96);
                Mix(v + 1, v + 33, v + 65, v + 97);
                Mix(v + 16, v + 48, v + 80, v + 112);
                Mix(v + 17, v + 49, v + 81, v + 113);
                Mix(v, v + 33, v + 80, v + 113);
                Mix(v + 1, v + 48, v + 81, v + 96);
                Mix(v + 16, v + 49, v + 64, v + 97);
                Mix(v + 17, v + 32, v + 65, v + 112);
            }

            for (var i = 0; i < BlockWords; i++)
            {
                n[i] = keep[i] ^ r[i];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Mix(ulong* a, ulong* b, ulong* c, ulong* d)
    {
        var (va, vb, vc, vd) = (*a, *b, *c, *d);
        va = va + vb + (2 * (ulong)(uint)va * (uint)vb);
        vd = BitOperations.RotateRight(vd ^ va, 32);
        vc = vc + vd + (2 * (ulong)(uint)vc * (uint)vd);
        vb = BitOperations.RotateRight(vb ^ vc, 24);
        va = va + vb + (2 * (ulong)(uint)va * (uint)vb);
        vd = BitOperations.RotateRight(vd ^ va, 16);
        vc = vc + vd + (2 * (ulong)(uint)vc * (uint)vd);
        vb = BitOperations.RotateRight(vb ^ vc, 63);
        (*a, *b, *c, *d) = (va, vb, vc, vd);
    }

    private readonly record struct Shape(int Lanes, int LaneLength, int SegmentLength, uint Blocks, uint Passes);
}

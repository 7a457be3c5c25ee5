using System.Buffers.Binary;
using System.Security.Cryptography;
using Backup.Hypervisor.Snapshots;

namespace Backup.Hypervisor.Devices.Virtio;

/// <summary>
/// The virtio entropy device (virtio-rng, device ID 4; virtio 1.x section 5.4): one request queue whose
/// device-writable buffers the device fills with random bytes from the host's <see cref="RandomNumberGenerator"/>.
/// No feature bits, no configuration space. A request gets at most <see cref="MaxBytesPerRequest"/> bytes (the
/// specification lets the device fill fewer bytes than offered; Linux asks for 64 at a time). A request with a
/// device-readable buffer, or with buffers outside guest RAM, is completed with nothing written and reported; the
/// queue stays usable. Without it a guest kernel that needs entropy early (getrandom before its own pool is seeded)
/// waits for timer jitter.
/// <para>
/// A <em>reproducible</em> device (for machines on the deterministic clock, whose runs and checkpoint restores must
/// replay bit for bit) instead hands out a fixed stream: SHA-256 of a block counter, 32 bytes per block. It is
/// predictable by design — deterministic machines are for tests and benchmarks — and its position is the device's
/// state section ("virtio-rng-source"; the queue is in its transport's section).
/// </para>
/// </summary>
public sealed class VirtioEntropyDevice : IVirtioDeviceBackend, IDeviceState
{
    /// <summary>Virtio device ID of an entropy source.</summary>
    public const uint EntropyDeviceId = 4;

    /// <summary>Size of the request queue.</summary>
    public const ushort QueueSize = 64;

    /// <summary>Most bytes one request is given.</summary>
    public const int MaxBytesPerRequest = 64 << 10;

    private readonly byte[] _block = new byte[32];
    private ulong _position;

    /// <param name="reproducible">Hand out the fixed, replayable stream instead of the host's random bytes.</param>
    public VirtioEntropyDevice(bool reproducible = false) => Reproducible = reproducible;

    /// <summary>True when the device hands out the fixed, replayable stream.</summary>
    public bool Reproducible { get; }

    /// <summary>Random bytes handed to the guest since the device was created.</summary>
    public long BytesProvided { get; private set; }

    /// <inheritdoc />
    public uint DeviceId => EntropyDeviceId;

    /// <inheritdoc />
    public ulong DeviceFeatures => 0;

    /// <inheritdoc />
    public int QueueCount => 1;

    /// <inheritdoc />
    public int ConfigSize => 0;

    /// <inheritdoc />
    public ushort GetQueueMaxSize(int queueIndex) => QueueSize;

    /// <inheritdoc />
    public void ReadConfig(int offset, Span<byte> destination)
    {
        // No configuration space: the transport never calls this (ConfigSize is 0).
    }

    /// <inheritdoc />
    public void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // No configuration space.
    }

    /// <inheritdoc />
    public void Activate(ulong negotiatedFeatures)
    {
    }

    /// <inheritdoc />
    public void Reset()
    {
    }

    /// <inheritdoc />
    public void ProcessQueue(Virtqueue queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        while (queue.TryPop(out var chain))
        {
            string? problem = chain.Defect
                ?? (chain.ReadableLength != 0 ? $"has {chain.ReadableLength} device-readable bytes; an entropy request is device-writable only" : null);
            if (problem is not null)
            {
                queue.ReportError($"request at head {chain.HeadIndex} {problem}; completed with nothing written");
                queue.Complete(chain, 0);
                continue;
            }

            long wanted = Math.Min(chain.WritableLength, MaxBytesPerRequest);
            long written = 0;
            while (written < wanted && chain.TryGetStreamSpan(writable: true, written, wanted - written, out var span))
            {
                Fill(span);
                written += span.Length;
            }

            if (written < wanted)
            {
                queue.ReportError($"request at head {chain.HeadIndex}: buffer at byte {written} lies outside guest RAM; completed with {written} bytes");
            }

            BytesProvided += written;
            queue.Complete(chain, (uint)written);
        }
    }

    private void Fill(Span<byte> destination)
    {
        if (!Reproducible)
        {
            RandomNumberGenerator.Fill(destination);
            return;
        }

        Span<byte> counter = stackalloc byte[8];
        for (int i = 0; i < destination.Length; i++, _position++)
        {
            int within = (int)(_position % 32);
            if (within == 0 || i == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(counter, _position / 32);
                SHA256.HashData(counter, _block);
            }

            destination[i] = _block[within];
        }
    }

    /// <inheritdoc />
    public string StateName => "virtio-rng-source";

    /// <inheritdoc />
    public int StateVersion => 1;

    /// <inheritdoc />
    public void SaveState(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteBool(Reproducible);
        writer.WriteU64(_position);
    }

    /// <inheritdoc />
    public void RestoreState(StateReader reader, int version)
    {
        ArgumentNullException.ThrowIfNull(reader);
        reader.RequireVersion(version, 1);
        bool reproducible = reader.ReadBool();
        ulong position = reader.ReadU64();
        reader.ExpectEnd();

        // A machine restored on the other clock mode (as the clock itself allows) switches source: a reproducible
        // stream restarts where the saved one was, or at 0 after a host-random device.
        _position = reproducible ? position : 0;
    }
}

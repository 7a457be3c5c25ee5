using System.Buffers.Binary;

namespace Backup.Hypervisor.Boot;

/// <summary>
/// The structure OpenSBI's fw_dynamic reads through a2 at reset (OpenSBI docs/firmware/fw_dynamic.md,
/// include/sbi/fw_dynamic.h): magic "OSBI", version 2, the next stage's address and privilege, options, and the
/// preferred boot hart. Six native-width (64-bit) little-endian words.
/// </summary>
public static class FwDynamicInfo
{
    /// <summary>"OSBI" as a little-endian word.</summary>
    public const ulong Magic = 0x4942_534F;

    /// <summary>Version 2 adds boot_hart.</summary>
    public const ulong Version = 2;

    /// <summary>next_mode: S-mode.</summary>
    public const ulong NextModeSupervisor = 1;

    /// <summary>Bytes the structure takes.</summary>
    public const int Size = 6 * 8;

    /// <summary>The structure for a payload at <paramref name="nextAddress"/> entered in S-mode on <paramref name="bootHart"/>.</summary>
    public static byte[] Build(ulong nextAddress, ulong bootHart)
    {
        var bytes = new byte[Size];
        ReadOnlySpan<ulong> words = [Magic, Version, nextAddress, NextModeSupervisor, 0, bootHart];
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), words[i]);
        }

        return bytes;
    }
}

using System.Runtime.InteropServices;

namespace Backup.Repository.Crypto;

/// <summary>
/// The system's zstd library (<c>libzstd.so.1</c>, part of every Debian system: apt depends on it), used for chunk
/// compression and decompression when it can be loaded; it is several times faster than the managed port, which remains
/// the fallback (and decodes the small metadata blobs). Both read and write standard zstd frames, so either decodes what
/// the other wrote. One context per thread (<see cref="Context"/>).
/// </summary>
internal static unsafe class NativeZstd
{
    private static readonly delegate* unmanaged<nint> CreateCompressionContext;
    private static readonly delegate* unmanaged<nint, nuint> FreeCompressionContext;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint> CompressWithContext;
    private static readonly delegate* unmanaged<nint> CreateDecompressionContext;
    private static readonly delegate* unmanaged<nint, nuint> FreeDecompressionContext;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint> DecompressWithContext;
    private static readonly delegate* unmanaged<nuint, uint> IsError;

#pragma warning disable CA1810 // the library is probed once, all pointers together
    static NativeZstd()
    {
        if (Environment.GetEnvironmentVariable("BACKUP_NATIVE_ZSTD") == "0"
            || !(OperatingSystem.IsLinux() && (NativeLibrary.TryLoad("libzstd.so.1", out var library) || NativeLibrary.TryLoad("libzstd.so", out library))))
        {
            return;
        }

        try
        {
            CreateCompressionContext = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "ZSTD_createCCtx");
            FreeCompressionContext = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(library, "ZSTD_freeCCtx");
            CompressWithContext = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint>)NativeLibrary.GetExport(library, "ZSTD_compressCCtx");
            CreateDecompressionContext = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "ZSTD_createDCtx");
            FreeDecompressionContext = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(library, "ZSTD_freeDCtx");
            DecompressWithContext = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint>)NativeLibrary.GetExport(library, "ZSTD_decompressDCtx");
            IsError = (delegate* unmanaged<nuint, uint>)NativeLibrary.GetExport(library, "ZSTD_isError");
            Available = true;
        }
        catch (EntryPointNotFoundException)
        {
            Available = false;
        }
    }
#pragma warning restore CA1810

    /// <summary>True when the library was loaded (and <c>BACKUP_NATIVE_ZSTD</c> is not <c>0</c>).</summary>
    public static bool Available { get; }

    /// <summary>A compression and a decompression context for one thread.</summary>
    public sealed class Context : IDisposable
    {
        private readonly int _level;
        private nint _compression;
        private nint _decompression;

        public Context(int level)
        {
            if (!Available)
            {
                throw new InvalidOperationException("the system zstd library is not available");
            }

            _level = level;
            _compression = CreateCompressionContext();
            _decompression = CreateDecompressionContext();
            if (_compression == 0 || _decompression == 0)
            {
                Dispose();
                throw new InvalidOperationException("zstd could not create its contexts (out of memory)");
            }
        }

        /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> (at least the compress bound); returns the length.</summary>
        public int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            nuint result;
            fixed (byte* from = source, to = destination)
            {
                result = CompressWithContext(_compression, to, (nuint)destination.Length, from, (nuint)source.Length, _level);
            }

            return IsError(result) != 0 ? throw new InvalidOperationException($"zstd compression failed (code {result})") : (int)result;
        }

        /// <summary>Decompresses into <paramref name="destination"/>; returns the length, or -1 when the input is not a valid frame or does not fit.</summary>
        public int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            nuint result;
            fixed (byte* from = source, to = destination)
            {
                result = DecompressWithContext(_decompression, to, (nuint)destination.Length, from, (nuint)source.Length);
            }

            return IsError(result) != 0 ? -1 : (int)result;
        }

        public void Dispose()
        {
            if (_compression != 0)
            {
                _ = FreeCompressionContext(_compression);
                _compression = 0;
            }

            if (_decompression != 0)
            {
                _ = FreeDecompressionContext(_decompression);
                _decompression = 0;
            }
        }
    }
}

using Backup.Repository.Index;

namespace Backup.Repository.Reading;

/// <summary>
/// A run of consecutive chunks of a disk restored together: <see cref="Count"/> chunks from <see cref="First"/>, either
/// all zero (<see cref="Locations"/> null) or stored back to back in one pack (<see cref="Bytes"/> sealed bytes).
/// </summary>
internal sealed record RestoreRange(long First, int Count, BlobLocation[]? Locations, long Bytes);

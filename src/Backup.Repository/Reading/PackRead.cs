using Backup.Repository.Index;

namespace Backup.Repository.Reading;

/// <summary>
/// One ranged read of a pack during a pack-ordered full restore: <see cref="Length"/> bytes at <see cref="Offset"/>
/// holding <see cref="Blobs"/> (with small unneeded gaps read through), each written to every disk chunk listed with it.
/// </summary>
internal sealed record PackRead(string PackKey, long Offset, int Length, (BlobLocation Location, long[] Chunks)[] Blobs);

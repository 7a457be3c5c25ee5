using Backup.Network.Ethernet;

namespace Backup.Network.Switching;

/// <summary>Where finished frames go (a port's queue).</summary>
internal interface IFrameSink
{
    /// <summary>Takes a copy of one frame; false when it was dropped.</summary>
    bool Accept(ReadOnlySpan<byte> frame, in FrameOffload offload);

    /// <summary>Takes ownership of a finished frame in a buffer rented from the shared pool (returned to it when dropped).</summary>
    bool TakeRented(byte[] buffer, int length);
}

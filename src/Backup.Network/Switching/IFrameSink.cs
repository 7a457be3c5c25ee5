using Backup.Network.Ethernet;

namespace Backup.Network.Switching;

/// <summary>Where finished frames go (a port's queue).</summary>
internal interface IFrameSink
{
    /// <summary>Takes a copy of one frame; false when it was dropped.</summary>
    bool Accept(ReadOnlySpan<byte> frame, in FrameOffload offload);
}

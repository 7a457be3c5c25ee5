namespace Backup.Engine.Networks;

/// <summary>What a probe of a VM checks.</summary>
public enum VmProbeKind
{
    /// <summary>ICMP echo.</summary>
    Ping,

    /// <summary>A TCP connection to a port.</summary>
    Tcp,

    /// <summary>An HTTP GET with an expected status and/or body.</summary>
    Http,
}

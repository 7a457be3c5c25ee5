namespace Backup.Network.Tcp;

/// <summary>A connection's identity on one endpoint: the remote address and port and the local port.</summary>
internal readonly record struct TcpKey(uint RemoteIp, ushort RemotePort, ushort LocalPort);

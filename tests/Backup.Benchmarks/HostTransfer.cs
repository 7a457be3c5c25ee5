using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Backup.TestSupport;

namespace Backup.Benchmarks;

/// <summary>
/// Bulk TCP between the host and a guest's port 5000 through a port forward on host loopback (ours: the appliance's
/// forward; QEMU: -netdev user's hostfwd), both directions, SHA-256 checked on both ends.
/// </summary>
internal static partial class HostTransfer
{
    private static readonly TimeSpan Command = TimeSpan.FromMinutes(5);

    /// <summary>Seconds from the host's connect to the guest's nc ending with all <paramref name="mib"/> MiB written.</summary>
    public static double HostToGuest(ConsoleDrivenGuest guest, int hostPort, int mib)
    {
        byte[] data = RandomNumberGenerator.GetBytes(mib << 20);
        string sent = Convert.ToHexStringLower(SHA256.HashData(data));
        guest.Start("rm -f /tmp/rx; nc -l -p 5000 > /tmp/rx");
        Thread.Sleep(500);
        var stopwatch = Stopwatch.StartNew();
        using (var client = Connect(hostPort))
        using (var stream = client.GetStream())
        {
            stream.Write(data);
            client.Client.Shutdown(SocketShutdown.Send);
            var (status, output) = guest.Finish(Command);
            if (status != 0)
            {
                throw new InvalidOperationException($"{guest.Name}: the receiving nc exited {status}:\n{output}");
            }
        }

        double seconds = stopwatch.Elapsed.TotalSeconds;
        string received = Sha(guest.Run("sha256sum /tmp/rx", Command));
        return received == sent ? seconds : throw new InvalidOperationException($"host -> {guest.Name}: sent {sent}, the guest has {received}");
    }

    /// <summary>Seconds from the host's connect to its last byte of <paramref name="mib"/> MiB read.</summary>
    public static double GuestToHost(ConsoleDrivenGuest guest, int hostPort, int mib)
    {
        string sent = Sha(guest.Run($"head -c {mib << 20} /dev/urandom > /tmp/tx && sha256sum /tmp/tx", Command));
        guest.Start("nc -l -p 5000 < /tmp/tx");
        Thread.Sleep(500);
        byte[] received = new byte[mib << 20];
        var stopwatch = Stopwatch.StartNew();
        using (var client = Connect(hostPort))
        using (var stream = client.GetStream())
        {
            stream.ReadExactly(received);
        }

        double seconds = stopwatch.Elapsed.TotalSeconds;
        guest.Finish(Command);
        string got = Convert.ToHexStringLower(SHA256.HashData(received));
        return got == sent ? seconds : throw new InvalidOperationException($"{guest.Name} -> host: sent {sent}, the host has {got}");
    }

    /// <summary>A free loopback port.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static TcpClient Connect(int port)
    {
        var client = new TcpClient { NoDelay = true, ReceiveTimeout = 300_000, SendTimeout = 300_000 };
        client.Connect(IPAddress.Loopback, port);
        return client;
    }

    private static string Sha(string output) =>
        Checksum().Match(output) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"no checksum in:\n{output}");

    [GeneratedRegex(@"\b([0-9a-f]{64})\s+/tmp/")]
    private static partial Regex Checksum();
}

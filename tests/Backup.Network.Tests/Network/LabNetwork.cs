using System.Net;
using System.Text;
using Backup.Network.Endpoint;
using Backup.Network.Ethernet;
using Backup.Network.Tcp;

namespace Backup.Network.Tests.Network;

/// <summary>
/// A real <see cref="VirtualNetwork"/> with one "VM": a second appliance endpoint attached as the VM's NIC, at the
/// address the network reserved for its MAC. It can run an echo server and a small HTTP server.
/// </summary>
internal sealed class LabNetwork : IDisposable
{
    public static readonly MacAddress VmMac = MacAddress.Parse("52:54:00:aa:00:01");
    private readonly List<IDisposable> _servers = [];
    private readonly CancellationTokenSource _stop = new();

    public LabNetwork(string name = "lab-test", TimeSpan? forwardTimeout = null)
    {
        Network = new VirtualNetwork(new VirtualNetworkOptions
        {
            Name = name,
            ForwardConnectTimeout = forwardTimeout ?? TimeSpan.FromSeconds(5),
        });
        VmAddress = Network.Subnet.Host(50);
        var port = Network.Attach("web_1", VmMac, VmAddress);
        Vm = new ApplianceEndpoint(port, new EndpointOptions { Mac = VmMac, Address = VmAddress, PrefixLength = Network.Subnet.PrefixLength });
    }

    public VirtualNetwork Network { get; }

    public IPAddress VmAddress { get; }

    public ApplianceEndpoint Vm { get; }

    /// <summary>Echoes every byte back, then closes its side when the client closes.</summary>
    public void StartEcho(int port) => Serve(port, async s =>
    {
        var buffer = new byte[65536];
        int n;
        while ((n = await s.ReadAsync(buffer)) > 0)
        {
            await s.WriteAsync(buffer.AsMemory(0, n));
        }

        s.ShutdownWrite();
    });

    /// <summary>Answers each request with <paramref name="status"/> and <paramref name="body"/>; with null status, never answers.</summary>
    public void StartHttp(int port, int? status, string body) => Serve(port, async s =>
    {
        var buffer = new byte[4096];
        var request = new StringBuilder();
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await s.ReadAsync(buffer);
            if (n == 0)
            {
                return;
            }

            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        if (status is null)
        {
            await Task.Delay(Timeout.Infinite, _stop.Token);
        }

        await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"));
        s.ShutdownWrite();
        while (await s.ReadAsync(buffer) > 0)
        {
        }
    });

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var s in _servers)
        {
            s.Dispose();
        }

        Vm.Dispose();
        Network.Dispose();
        _stop.Dispose();
    }

    private void Serve(int port, Func<TcpStream, Task> handle)
    {
        var listener = Vm.ListenTcp(port);
        _servers.Add(listener);
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpStream s;
                try
                {
                    s = await listener.AcceptAsync(_stop.Token);
                }
                catch (Exception)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    await using (s)
                    {
                        try
                        {
                            await handle(s);
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException)
                        {
                            // the peer went away
                        }
                    }
                });
            }
        });
    }
}

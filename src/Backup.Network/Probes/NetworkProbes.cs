using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Backup.Network.Endpoint;

namespace Backup.Network.Probes;

/// <summary>
/// Probes from the appliance endpoint into its network — ICMP echo, TCP connect, HTTP GET — each returning a
/// <see cref="ProbeResult"/> rather than throwing: failover drills record them as they are.
/// </summary>
public sealed class NetworkProbes(ApplianceEndpoint endpoint)
{
    /// <summary>Pings <paramref name="address"/> once.</summary>
    public async Task<ProbeResult> PingAsync(IPAddress address, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string target = $"ping {address}";
        var watch = Stopwatch.StartNew();
        try
        {
            var rtt = await endpoint.PingAsync(address, timeout, cancellationToken).ConfigureAwait(false);
            return ProbeResult.Passed(target, rtt, $"echo reply in {rtt.TotalMilliseconds:0.00} ms");
        }
        catch (NetworkException e)
        {
            return ProbeResult.Failed(target, watch.Elapsed, e.Failure, e.Message);
        }
    }

    /// <summary>Opens (and gracefully closes) a TCP connection to <paramref name="address"/>:<paramref name="port"/>.</summary>
    public async Task<ProbeResult> TcpConnectAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string target = $"tcp {address}:{port}";
        var watch = Stopwatch.StartNew();
        try
        {
            await using var stream = await endpoint.ConnectTcpAsync(address, port, timeout, cancellationToken).ConfigureAwait(false);
            var elapsed = watch.Elapsed;
            return ProbeResult.Passed(target, elapsed, $"connected in {elapsed.TotalMilliseconds:0.00} ms");
        }
        catch (NetworkException e)
        {
            return ProbeResult.Failed(target, watch.Elapsed, e.Failure, e.Message);
        }
    }

    /// <summary>Sends an HTTP/1.1 GET and checks the status and body against <paramref name="probe"/>.</summary>
    public async Task<ProbeResult> HttpGetAsync(IPAddress address, int port, HttpProbe probe, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        string target = $"http://{address}:{port}{probe.Path}";
        var watch = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        byte[] response;
        try
        {
            await using var stream = await endpoint.ConnectTcpAsync(address, port, timeout, deadline.Token).ConfigureAwait(false);
            string request = $"GET {probe.Path} HTTP/1.1\r\nHost: {probe.Host ?? address.ToString()}\r\nUser-Agent: backup-appliance-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), deadline.Token).ConfigureAwait(false);
            response = await ReadResponseAsync(stream, probe.MaxBodyBytes, deadline.Token).ConfigureAwait(false);
        }
        catch (NetworkException e)
        {
            return ProbeResult.Failed(target, watch.Elapsed, e.Failure, e.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ProbeResult.Failed(target, watch.Elapsed, NetworkFailure.Timeout, $"no complete HTTP response within {timeout.TotalMilliseconds:0} ms");
        }

        return Judge(target, watch.Elapsed, response, probe);
    }

    private static async Task<byte[]> ReadResponseAsync(Stream stream, int limit, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (buffer.Length < limit + 8192)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            buffer.Write(chunk, 0, n);
        }

        return buffer.ToArray();
    }

    private static ProbeResult Judge(string target, TimeSpan elapsed, byte[] response, HttpProbe probe)
    {
        string text = Encoding.Latin1.GetString(response);
        int headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] status = (headerEnd < 0 ? text : text[..headerEnd]).Split("\r\n")[0].Split(' ', 3);
        if (headerEnd < 0 || status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out int code))
        {
            return ProbeResult.Failed(target, elapsed, NetworkFailure.MalformedResponse,
                $"not an HTTP response: '{Shorten(text, 80)}'");
        }

        string headers = text[..headerEnd];
        string body = text[(headerEnd + 4)..];
        if (headers.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Unchunk(body);
        }

        body = Shorten(Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(body)), probe.MaxBodyBytes);
        string prefix = Shorten(body, 256);
        bool statusOk = probe.ExpectedStatus is { } expected ? code == expected : code is >= 200 and < 400;
        if (!statusOk)
        {
            return ProbeResult.Failed(target, elapsed, NetworkFailure.UnexpectedResponse,
                $"status {code}, expected {(probe.ExpectedStatus?.ToString(CultureInfo.InvariantCulture) ?? "2xx or 3xx")}", code, prefix);
        }

        if (probe.ExpectedBody is { } want && !body.Contains(want, StringComparison.Ordinal))
        {
            return ProbeResult.Failed(target, elapsed, NetworkFailure.UnexpectedResponse, $"status {code} but the body lacks '{want}'", code, prefix);
        }

        return ProbeResult.Passed(target, elapsed, $"status {code} in {elapsed.TotalMilliseconds:0.00} ms", code, prefix);
    }

    private static string Unchunk(string body)
    {
        var result = new StringBuilder();
        int at = 0;
        while (at < body.Length)
        {
            int lineEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (lineEnd < 0 || !int.TryParse(body.AsSpan(at, lineEnd - at).ToString().Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int size)
                || size <= 0)
            {
                break;
            }

            int start = lineEnd + 2;
            result.Append(body, start, Math.Min(size, body.Length - start));
            at = start + size + 2;
        }

        return result.ToString();
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max];
}

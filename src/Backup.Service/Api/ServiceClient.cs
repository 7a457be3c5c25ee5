using System.Net.Http.Json;
using System.Net.Sockets;
using Backup.Service.Catalog;
using Backup.Service.Data;

namespace Backup.Service.Api;

/// <summary>
/// The CLI's way to the running service: HTTP over the data folder's Unix socket. <see cref="TryConnect"/> answers
/// null when no service runs (no socket, or nobody listening), in which case the CLI works on the folder itself.
/// </summary>
public sealed class ServiceClient : IDisposable
{
    private readonly HttpClient _http;

    private ServiceClient(HttpClient http) => _http = http;

    /// <summary>A client to the service of that data folder, or null if none is running.</summary>
    public static async Task<ServiceClient?> TryConnect(ApplianceData data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!File.Exists(data.SocketPath))
        {
            return null;
        }

        string socket = data.SocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), token).ConfigureAwait(false);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            },
        };
        var http = new HttpClient(handler) { BaseAddress = new Uri("http://appliance/"), Timeout = Timeout.InfiniteTimeSpan };
        var client = new ServiceClient(http);
        try
        {
            using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            probe.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync(new Uri("api/health", UriKind.Relative), probe.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return client;
            }
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or OperationCanceledException or IOException)
        {
            // A stale socket: nobody serves it.
        }

        client.Dispose();
        return null;
    }

    public async Task<IReadOnlyList<VmStatus>> ListVmsAsync(CancellationToken cancellationToken = default) =>
        await GetAsync<List<VmStatus>>("api/vms", cancellationToken).ConfigureAwait(false);

    public async Task StartVmAsync(string name, CancellationToken cancellationToken = default) =>
        await SendAsync(HttpMethod.Post, $"api/vms/{Uri.EscapeDataString(name)}/start", null, cancellationToken).ConfigureAwait(false);

    public async Task StopVmAsync(string name, CancellationToken cancellationToken = default) =>
        await SendAsync(HttpMethod.Post, $"api/vms/{Uri.EscapeDataString(name)}/stop", null, cancellationToken).ConfigureAwait(false);

    public async Task<ProbeReply> ProbeAsync(string name, ProbeCommand command, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Post, $"api/vms/{Uri.EscapeDataString(name)}/probe", JsonContent.Create(command), cancellationToken).ConfigureAwait(false);
        return (await response.Content.ReadFromJsonAsync<ProbeReply>(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<BackupReply> BackupAsync(string name, BackupCommand command, CancellationToken cancellationToken = default)
    {
        using var response = await SendAsync(HttpMethod.Post, $"api/vms/{Uri.EscapeDataString(name)}/backup", JsonContent.Create(command), cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<BackupReply>(cancellationToken).ConfigureAwait(false)
            ?? throw new ServiceException("the service answered the backup with an empty body");
    }

    public async Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? vm, int limit, CancellationToken cancellationToken = default) =>
        await GetAsync<List<JobRecord>>($"api/jobs?limit={limit}" + (vm is null ? string.Empty : $"&vm={Uri.EscapeDataString(vm)}"), cancellationToken).ConfigureAwait(false);

    /// <summary>Copies the VM's console (recent history, then live) to <paramref name="output"/> until cancelled or the VM stops.</summary>
    public async Task StreamConsoleAsync(string name, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"api/vms/{Uri.EscapeDataString(name)}/console", UriKind.Relative));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[4096];
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task SendConsoleInputAsync(string name, byte[] input, CancellationToken cancellationToken = default)
    {
        using var content = new ByteArrayContent(input);
        using var response = await SendAsync(HttpMethod.Post, $"api/vms/{Uri.EscapeDataString(name)}/console", content, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _http.Dispose();

    private async Task<T> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(cancellationToken).ConfigureAwait(false)
            ?? throw new ServiceException($"the service answered {path} with an empty body");
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ServiceException($"the service stopped answering: {e.Message}", e);
        }

        try
        {
            await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? error = null;
        try
        {
            error = (await response.Content.ReadFromJsonAsync<ErrorReply>(cancellationToken).ConfigureAwait(false))?.Error;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not our error body.
        }

        throw new ServiceException(error ?? $"the service answered {(int)response.StatusCode} {response.ReasonPhrase}");
    }
}

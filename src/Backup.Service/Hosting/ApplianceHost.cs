using System.Globalization;
using System.Threading.Channels;
using Backup.Engine.Backups;
using Backup.Service.Api;
using Backup.Service.Catalog;
using Backup.Service.Data;
using Backup.Service.Jobs;
using Backup.Service.Repositories;
using Backup.Service.Scheduling;
using Backup.Service.Vms;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Backup.Service.Hosting;

/// <summary>
/// The appliance service (`backup serve`): a Microsoft.Extensions.Hosting host that holds the data folder's lock,
/// cleans up after a previous run cut off by a crash (jobs marked interrupted, leftover checkpoint files removed),
/// runs the autostart VMs, schedules the protection plans on Quartz.NET and serves the REST API on the folder's
/// Unix socket (service.sock), through which the CLI drives it. Stopping it (SIGTERM, Ctrl-C) cancels running
/// jobs (nothing half-written becomes visible) and stops the VMs cleanly.
/// </summary>
public sealed class ApplianceHost : IAsyncDisposable
{
    private static readonly TimeSpan JobShutdownTimeout = TimeSpan.FromSeconds(30);
    private readonly WebApplication _app;
    private readonly DataFolderLock _lock;
    private readonly ApplianceCatalog _catalog;
    private readonly VmSupervisor _supervisor;
    private readonly PolicyScheduler? _scheduler;
    private readonly ServiceOptions _options;
    private readonly ILogger _logger;
    private int _disposed;

    private ApplianceHost(WebApplication app, DataFolderLock folderLock, ApplianceCatalog catalog, VmSupervisor supervisor, PolicyScheduler? scheduler, ServiceOptions options, ILogger logger)
    {
        _app = app;
        _lock = folderLock;
        _catalog = catalog;
        _supervisor = supervisor;
        _scheduler = scheduler;
        _options = options;
        _logger = logger;
    }

    public VmSupervisor Supervisor => _supervisor;

    public ApplianceCatalog Catalog => _catalog;

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl-C, <see cref="StopAsync"/>).</summary>
    public Task Stopping => Task.Delay(Timeout.Infinite, _app.Lifetime.ApplicationStopping).ContinueWith(_ => { }, TaskScheduler.Default);

    /// <summary>
    /// Takes the lock and starts everything. Throws <see cref="DataFolderBusyException"/> when another process holds the folder.
    /// </summary>
    public static async Task<ApplianceHost> StartAsync(ServiceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var data = options.Data;
        var folderLock = DataFolderLock.Acquire(data, options.Purpose);
        ApplianceCatalog? catalog = null;
        try
        {
            catalog = ApplianceCatalog.Open(data.CatalogPath);
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = data.Root, Args = [] });
            builder.Logging.ClearProviders();
            builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = options.LogToStandardError ? LogLevel.Trace : LogLevel.None);
            if (options.JsonLogs)
            {
                builder.Logging.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ");
            }
            else
            {
                builder.Logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss ";
                });
            }

            builder.Logging.AddFilter("Microsoft", LogLevel.Warning).AddFilter("Quartz", LogLevel.Warning);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
            if (File.Exists(data.SocketPath))
            {
                File.Delete(data.SocketPath); // a stale socket from a process that died; we hold the lock, so nobody serves it
            }

            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(data.SocketPath));
            var app = builder.Build();
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("appliance");

            CleanUp(data, catalog, logger);
            var store = new VmStore(data);
            var supervisor = new VmSupervisor(data, store, catalog, logger);
            var coordinator = new BackupCoordinator(data, store, catalog, supervisor, new RepositoryAccess(data), logger);
            var scheduler = options.RunScheduler ? new PolicyScheduler(options.Plans, store, catalog, coordinator, logger) : null;
            var host = new ApplianceHost(app, folderLock, catalog, supervisor, scheduler, options, logger);
            MapApi(app, store, catalog, supervisor, coordinator, options.Plans);

            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            logger.LogInformation("appliance started on {Data} (pid {Pid}); API on {Socket}; {Plans} policies", data.Root, Environment.ProcessId, data.SocketPath, options.Plans.Count);
            if (options.StartAutostartVms)
            {
                supervisor.StartAutostart();
            }

            foreach (string vm in options.StartVms)
            {
                supervisor.Start(vm);
            }

            if (scheduler is not null)
            {
                await scheduler.StartAsync(cancellationToken).ConfigureAwait(false);
            }

            return host;
        }
        catch
        {
            catalog?.Dispose();
            folderLock.Dispose();
            throw;
        }
    }

    /// <summary>Asks the host to stop (as SIGTERM does).</summary>
    public void RequestStop() => _app.Lifetime.StopApplication();

    public async Task StopAsync() => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _logger.LogInformation("appliance stopping");
        if (_scheduler is not null)
        {
            try
            {
                // Running jobs are cancelled; one stuck in an uncancellable step must not keep the appliance from stopping.
                await _scheduler.DisposeAsync().AsTask().WaitAsync(JobShutdownTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _logger.LogWarning("running jobs did not end within {Timeout} s of the stop request; stopping without them (nothing they wrote is committed)", JobShutdownTimeout.TotalSeconds);
            }
        }

        _supervisor.Dispose();
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _catalog.Dispose();
        TryDelete(_options.Data.SocketPath);
        _lock.Dispose();
    }

    /// <summary>After a crash: jobs left running are marked interrupted and their checkpoint files removed.</summary>
    private static void CleanUp(ApplianceData data, ApplianceCatalog catalog, ILogger logger)
    {
        foreach (var job in catalog.MarkInterruptedJobs())
        {
            logger.LogWarning("job {Job} ({Kind} of {Vm}, started {Started:u}) was cut off when the appliance stopped; marked interrupted", job.Id, job.Kind, job.Vm, job.Started);
        }

        if (Directory.Exists(data.WorkDirectory))
        {
            foreach (string leftover in Directory.EnumerateFiles(data.WorkDirectory))
            {
                logger.LogWarning("removing {File}, left over by a job that was cut off", leftover);
                TryDelete(leftover);
            }
        }
    }

    private static void MapApi(WebApplication app, VmStore store, ApplianceCatalog catalog, VmSupervisor supervisor, BackupCoordinator coordinator, IReadOnlyList<ProtectionPlan> plans)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/health", () => Results.Ok(new { status = "ok", pid = Environment.ProcessId }));
        api.MapGet("/vms", () => Results.Ok(ListVms(store, catalog, supervisor)));
        api.MapPost("/vms/{name}/start", (string name) => Guard(() =>
        {
            supervisor.Start(name);
            return Results.Ok(new { name, state = "running" });
        }));
        api.MapPost("/vms/{name}/stop", async (string name) =>
        {
            try
            {
                var exit = await supervisor.StopAsync(name, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                return Results.Ok(new { name, state = "stopped", exit = exit.Message });
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(new ErrorReply(e.Message));
            }
        });
        api.MapPost("/vms/{name}/backup", async (string name, BackupCommand? command, HttpContext http) =>
        {
            BackupConsistency? consistency = command?.Consistency switch
            {
                null or "" => null,
                "crash" => BackupConsistency.Crash,
                "application" => BackupConsistency.Application,
                _ => (BackupConsistency)(-1),
            };
            if (consistency == (BackupConsistency)(-1))
            {
                return Results.BadRequest(new ErrorReply($"consistency '{command!.Consistency}' is neither crash nor application"));
            }

            if (!store.Exists(name))
            {
                return Results.NotFound(new ErrorReply($"no VM named '{name}'"));
            }

            var order = BackupOrders.ForVm(plans, name, "api", command?.Repository, command?.Passphrase, consistency);
            var outcome = await coordinator.RunAsync(order, null, http.RequestAborted).ConfigureAwait(false);
            return Results.Ok(ToReply(outcome));
        });
        api.MapGet("/vms/{name}/console", async (string name, HttpContext http) =>
        {
            var vm = supervisor.Find(name);
            if (vm is null)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                await http.Response.WriteAsJsonAsync(new ErrorReply($"VM '{name}' is not running")).ConfigureAwait(false);
                return;
            }

            http.Response.ContentType = "application/octet-stream";
            var channel = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
            using var subscription = vm.Console.Attach(bytes => channel.Writer.TryWrite(bytes), out byte[] recent);
            _ = vm.Exited.ContinueWith(_ => channel.Writer.TryComplete(), TaskScheduler.Default);
            await http.Response.Body.WriteAsync(recent, http.RequestAborted).ConfigureAwait(false);
            await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
            try
            {
                await foreach (byte[] chunk in channel.Reader.ReadAllAsync(http.RequestAborted).ConfigureAwait(false))
                {
                    await http.Response.Body.WriteAsync(chunk, http.RequestAborted).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // The client detached.
            }
        });
        api.MapPost("/vms/{name}/console", async (string name, HttpRequest request) =>
        {
            var vm = supervisor.Find(name);
            if (vm is null)
            {
                return Results.NotFound(new ErrorReply($"VM '{name}' is not running"));
            }

            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer).ConfigureAwait(false);
            vm.SendInput(buffer.ToArray());
            return Results.NoContent();
        });
        api.MapGet("/points", (string? vm) => Results.Ok(catalog.ListPoints(vm)));
        api.MapGet("/jobs", (string? vm, int? limit) => Results.Ok(catalog.ListJobs(limit ?? 50, vm)));
    }

    /// <summary>Every defined VM with whether it runs here and its last recorded state.</summary>
    public static IReadOnlyList<VmStatus> ListVms(VmStore store, ApplianceCatalog catalog, VmSupervisor? supervisor)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(catalog);
        var states = catalog.VmStates();
        return store.List().Definitions.Select(d =>
        {
            bool running = supervisor?.Find(d.Name) is not null;
            var known = states.TryGetValue(d.Name, out var s) ? s : ((string, DateTimeOffset)?)null;
            string state = running ? "running" : known is { } k && !k.Item1.StartsWith("running", StringComparison.Ordinal) && !k.Item1.StartsWith("rebooting", StringComparison.Ordinal) ? k.Item1 : "stopped";
            return new VmStatus(d.Name, running, d.Autostart, d.MemoryBytes, d.Cpus, d.Disks.Count, state, known?.Item2,
                Enumerable.Range(0, d.Disks.Count).Select(d.CbtGranularityOf).ToList(), DescribeAgents(d));
        }).ToList();
    }

    /// <summary>The guest agents of <paramref name="definition"/> as <see cref="VmStatus.Agents"/> shows them.</summary>
    public static string DescribeAgents(Backup.Engine.Vms.VmDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        string[] agents = [.. new[] { definition.QemuGuestAgent ? "qga" : null, definition.AgentChannel ? "channel" : null }.OfType<string>()];
        return agents.Length == 0 ? "-" : string.Join('+', agents);
    }

    public static BackupReply ToReply(BackupOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var result = outcome.Result;
        return new BackupReply(outcome.JobId, outcome.Status, outcome.Message, result?.PointId, result?.ParentId, result?.Consistency,
            result?.Stun.TotalMilliseconds ?? 0, result?.Disks.Sum(d => d.Length) ?? 0, result?.Disks.Sum(d => d.ChangedBytes) ?? 0,
            result?.Statistics.UploadedBytes ?? 0, result?.Duration.TotalSeconds ?? 0,
            result?.Disks.Where(d => d.FullReadReason is not null).Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Name}: {d.FullReadReason}")).ToList(),
            result?.ConsistencyNote);
    }

    private static IResult Guard(Func<IResult> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidOperationException or UnauthorizedAccessException or Disks.BlockDevices.DiskImageException)
        {
            return Results.BadRequest(new ErrorReply(e.Message));
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Harmless: removed by the next start.
        }
    }
}

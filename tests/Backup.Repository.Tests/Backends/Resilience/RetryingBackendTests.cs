using System.Text;
using Backup.Repository.Backends;
using Backup.Repository.Backends.Faults;
using Backup.Repository.Backends.Local;
using Backup.Repository.Backends.Resilience;
using Backup.Repository.Tests.Support;

namespace Backup.Repository.Tests.Backends.Resilience;

/// <summary>The retrying decorator against injected faults over a local folder.</summary>
public sealed class RetryingBackendTests : BackendConformanceTests, IDisposable
{
    public static readonly RetryPolicy Fast = new()
    {
        MaxAttempts = 5,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(20),
        AttemptTimeout = TimeSpan.FromMilliseconds(500),
        MaxTotalTime = TimeSpan.FromSeconds(30),
    };

    private readonly TemporaryFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    // The conformance suite also holds through the decorator.
    protected override IRepositoryBackend CreateBackend() => new RetryingBackend(NewFolder(), Fast);

    private LocalFolderBackend NewFolder() => new(Path.Combine(_folder.Path, Guid.NewGuid().ToString("N")));

    private static Func<BackendOperation, string, BackendFault?> FirstN(BackendOperation operation, int count, BackendFault fault)
    {
        var remaining = count;
        return (op, _) => op == operation && Interlocked.Decrement(ref remaining) >= 0 ? fault : null;
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task Transient_errors_are_retried_until_the_operation_succeeds()
    {
        var faulty = new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Put, 3, BackendFault.Throw(new BackendTransientException("injected 503"))));
        var backend = new RetryingBackend(faulty, Fast);
        await backend.PutAsync("packs/aa/x", Bytes("data"), PutMode.Overwrite);
        Assert.Equal(3, backend.Retries);
        Assert.Equal(Bytes("data"), await backend.GetAsync("packs/aa/x"));
    }

    [Fact]
    public async Task Permanent_errors_are_not_retried()
    {
        var faulty = new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Get, 100, BackendFault.Throw(new IOException("access denied"))));
        var backend = new RetryingBackend(faulty, Fast);
        await Assert.ThrowsAsync<IOException>(() => backend.GetAsync("config"));
        await Assert.ThrowsAsync<BackendObjectNotFoundException>(() => new RetryingBackend(NewFolder(), Fast).GetAsync("missing"));
        Assert.Equal(0, backend.Retries);
    }

    [Fact]
    public async Task Attempts_are_bounded_and_the_error_says_how_often_it_tried()
    {
        var faulty = new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Exists, 100, BackendFault.Throw(new BackendTransientException("injected outage"))));
        var backend = new RetryingBackend(faulty, Fast);
        var error = await Assert.ThrowsAsync<BackendTransientException>(() => backend.ExistsAsync("config"));
        Assert.Contains("after 5 attempt(s)", error.Message);
        Assert.Contains("injected outage", error.Message);
        Assert.Equal(4, backend.Retries);
    }

    [Fact]
    public async Task Total_retry_time_is_bounded()
    {
        var faulty = new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Exists, 1000, BackendFault.Throw(new BackendTransientException("injected outage"))));
        var backend = new RetryingBackend(faulty, Fast with { MaxAttempts = 1000, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(50), MaxTotalTime = TimeSpan.FromMilliseconds(300) });
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<BackendTransientException>(() => backend.ExistsAsync("config"));
        Assert.Contains("retry limit", error.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Calls_beyond_the_attempt_timeout_are_cancelled_and_retried_and_slow_ones_are_waited_for()
    {
        var faulty = new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Put, 2, BackendFault.Slow(TimeSpan.FromSeconds(30))));
        var backend = new RetryingBackend(faulty, Fast with { AttemptTimeout = TimeSpan.FromMilliseconds(100) });
        await backend.PutAsync("index/i", Bytes("index"), PutMode.Overwrite);
        Assert.Equal(2, backend.Retries);

        var slow = new RetryingBackend(new FaultInjectingBackend(NewFolder(), FirstN(BackendOperation.Put, 1, BackendFault.Slow(TimeSpan.FromMilliseconds(50)))), Fast);
        await slow.PutAsync("index/i", Bytes("index"), PutMode.Overwrite);
        Assert.Equal(0, slow.Retries);
    }

    [Fact]
    public async Task A_create_only_put_whose_response_was_lost_is_not_written_twice_nor_reported_as_taken()
    {
        var folder = NewFolder();
        var faulty = new FaultInjectingBackend(folder, FirstN(BackendOperation.Put, 1, BackendFault.ThrowAfter(new BackendTransientException("injected: connection reset after the request was sent"))));
        var backend = new RetryingBackend(faulty, Fast);
        await backend.PutAsync("points/p1", Bytes("manifest"), PutMode.CreateNew);
        Assert.Equal(Bytes("manifest"), await folder.GetAsync("points/p1"));

        var late = new FaultInjectingBackend(folder, FirstN(BackendOperation.Put, 1, BackendFault.LateResponse(TimeSpan.FromSeconds(30))));
        var lateBackend = new RetryingBackend(late, Fast with { AttemptTimeout = TimeSpan.FromMilliseconds(100) });
        await lateBackend.PutAsync("points/p2", Bytes("manifest 2"), PutMode.CreateNew);
        Assert.Equal(Bytes("manifest 2"), await folder.GetAsync("points/p2"));
    }

    [Fact]
    public async Task After_an_ambiguous_failure_a_rivals_object_is_reported_as_existing_and_kept()
    {
        var folder = NewFolder();
        var rival = false;
        var faulty = new FaultInjectingBackend(folder, (operation, key) =>
        {
            if (operation == BackendOperation.Put && !rival)
            {
                rival = true;
                // Another writer creates the key while our request fails ambiguously.
                folder.PutAsync(key, Bytes("rival"), PutMode.CreateNew).GetAwaiter().GetResult();
                return BackendFault.Throw(new BackendTransientException("injected timeout"));
            }

            return null;
        });
        var backend = new RetryingBackend(faulty, Fast);
        await Assert.ThrowsAsync<BackendObjectExistsException>(() => backend.PutAsync("locks/l", Bytes("ours"), PutMode.CreateNew));
        Assert.Equal(Bytes("rival"), await folder.GetAsync("locks/l"));
    }

    [Theory]
    [InlineData(BackendOperation.Get)]
    [InlineData(BackendOperation.GetRange)]
    public async Task Truncated_reads_are_detected_and_retried(BackendOperation operation)
    {
        var folder = NewFolder();
        var data = new byte[10_000];
        new Random(3).NextBytes(data);
        await folder.PutAsync("packs/aa/p", data, PutMode.Overwrite);
        var backend = new RetryingBackend(new FaultInjectingBackend(folder, FirstN(operation, 2, BackendFault.TruncatedRead(0.3))), Fast);
        var read = operation == BackendOperation.Get ? await backend.GetAsync("packs/aa/p") : await backend.GetRangeAsync("packs/aa/p", 100, 5000);
        Assert.Equal(operation == BackendOperation.Get ? data : data.AsSpan(100, 5000).ToArray(), read);
        Assert.Equal(2, backend.Retries);
        Assert.Equal(data.AsSpan(9000).ToArray(), await backend.GetRangeAsync("packs/aa/p", 9000, 5000));
    }

    [Fact]
    public async Task Without_length_checks_a_truncated_read_gets_through_which_is_why_they_are_on_by_default()
    {
        var folder = NewFolder();
        await folder.PutAsync("o", new byte[100], PutMode.Overwrite);
        // A generous attempt timeout: on a loaded host a first attempt slower than Fast's 500 ms would be retried
        // untruncated, and the test would see the retry's 50 bytes instead of what a single truncated read returns.
        var policy = Fast with { VerifyReadLengths = false, AttemptTimeout = TimeSpan.FromSeconds(30) };
        var backend = new RetryingBackend(new FaultInjectingBackend(folder, FirstN(BackendOperation.GetRange, 1, BackendFault.TruncatedRead(0.5))), policy);
        Assert.Equal(25, (await backend.GetRangeAsync("o", 0, 50)).Length);
    }

    [Theory]
    [InlineData(PutMode.Overwrite)]
    [InlineData(PutMode.CreateNew)]
    public async Task Damaged_writes_refused_by_the_store_are_retried(PutMode mode)
    {
        var folder = NewFolder();
        var backend = new RetryingBackend(new FaultInjectingBackend(folder, FirstN(BackendOperation.Put, 2, BackendFault.CorruptedWrite(silent: false))), Fast);
        await backend.PutAsync("points/x", Bytes("the manifest"), mode);
        Assert.Equal(Bytes("the manifest"), await folder.GetAsync("points/x"));
    }

    [Theory]
    [InlineData(PutMode.Overwrite, true)]
    [InlineData(PutMode.CreateNew, true)]
    [InlineData(PutMode.CreateNew, false)]
    public async Task Silently_damaged_writes_are_caught_by_read_back_verification_and_rewritten(PutMode mode, bool truncate)
    {
        var folder = NewFolder();
        var fault = truncate ? BackendFault.TruncatedWrite(silent: true) : BackendFault.CorruptedWrite(silent: true);
        var backend = new RetryingBackend(new FaultInjectingBackend(folder, FirstN(BackendOperation.Put, 1, fault)), Fast with { VerifyWrites = true });
        await backend.PutAsync("points/y", Bytes("another manifest"), mode);
        Assert.Equal(Bytes("another manifest"), await folder.GetAsync("points/y"));
        Assert.Equal(1, backend.Retries);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_retried()
    {
        var backend = new RetryingBackend(new FaultInjectingBackend(NewFolder(), (_, _) => BackendFault.Slow(TimeSpan.FromSeconds(30))), Fast with { AttemptTimeout = TimeSpan.FromMinutes(1) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backend.GetAsync("x", cancel.Token));
        Assert.Equal(0, backend.Retries);
    }
}

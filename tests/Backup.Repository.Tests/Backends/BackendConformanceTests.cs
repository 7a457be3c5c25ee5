using System.Text;
using Backup.Repository.Backends;

namespace Backup.Repository.Tests.Backends;

/// <summary>The behaviour every backend must show. Each backend gets a subclass that supplies a fresh, empty backend.</summary>
public abstract class BackendConformanceTests
{
    protected abstract IRepositoryBackend CreateBackend();

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task Put_then_get_returns_the_same_bytes()
    {
        var backend = CreateBackend();
        var data = new byte[300_000];
        new Random(1).NextBytes(data);
        await backend.PutAsync("packs/ab/object", data, PutMode.Overwrite);
        Assert.Equal(data, await backend.GetAsync("packs/ab/object"));
        Assert.True(await backend.ExistsAsync("packs/ab/object"));
    }

    [Fact]
    public async Task Empty_objects_round_trip()
    {
        var backend = CreateBackend();
        await backend.PutAsync("empty", ReadOnlyMemory<byte>.Empty, PutMode.CreateNew);
        Assert.Empty(await backend.GetAsync("empty"));
    }

    [Fact]
    public async Task Ranged_get_returns_the_range_and_stops_at_the_end()
    {
        var backend = CreateBackend();
        await backend.PutAsync("r", Bytes("0123456789"), PutMode.Overwrite);
        Assert.Equal(Bytes("345"), await backend.GetRangeAsync("r", 3, 3));
        Assert.Equal(Bytes("89"), await backend.GetRangeAsync("r", 8, 10));
        Assert.Empty(await backend.GetRangeAsync("r", 10, 4));
    }

    [Fact]
    public async Task Ranged_read_into_a_buffer_fills_it_and_stops_at_the_end()
    {
        IRepositoryBackend backend = CreateBackend();
        await backend.PutAsync("r", Bytes("0123456789"), PutMode.Overwrite);
        var buffer = new byte[6];
        Assert.Equal(3, await backend.ReadRangeAsync("r", 3, buffer.AsMemory(1, 3)));
        Assert.Equal(Bytes("345"), buffer[1..4]);
        Assert.Equal(2, await backend.ReadRangeAsync("r", 8, buffer));
        Assert.Equal(Bytes("89"), buffer[..2]);
        Assert.Equal(0, await backend.ReadRangeAsync("r", 10, buffer));
        await Assert.ThrowsAsync<BackendObjectNotFoundException>(() => backend.ReadRangeAsync("index/missing", 0, buffer));
    }

    [Fact]
    public async Task Missing_objects_raise_not_found_naming_the_key()
    {
        var backend = CreateBackend();
        var whole = await Assert.ThrowsAsync<BackendObjectNotFoundException>(() => backend.GetAsync("index/missing"));
        Assert.Equal("index/missing", whole.Key);
        Assert.Contains("index/missing", whole.Message);
        await Assert.ThrowsAsync<BackendObjectNotFoundException>(() => backend.GetRangeAsync("index/missing", 0, 1));
        Assert.False(await backend.ExistsAsync("index/missing"));
    }

    [Fact]
    public async Task Create_new_refuses_an_existing_key_and_keeps_the_original()
    {
        var backend = CreateBackend();
        await backend.PutAsync("locks/a", Bytes("first"), PutMode.CreateNew);
        var error = await Assert.ThrowsAsync<BackendObjectExistsException>(() => backend.PutAsync("locks/a", Bytes("second"), PutMode.CreateNew));
        Assert.Equal("locks/a", error.Key);
        Assert.Equal(Bytes("first"), await backend.GetAsync("locks/a"));
    }

    [Fact]
    public async Task Overwrite_replaces_the_object()
    {
        var backend = CreateBackend();
        await backend.PutAsync("o", Bytes("first"), PutMode.Overwrite);
        await backend.PutAsync("o", Bytes("second!"), PutMode.Overwrite);
        Assert.Equal(Bytes("second!"), await backend.GetAsync("o"));
    }

    [Fact]
    public async Task List_returns_exactly_the_keys_under_a_prefix_with_their_sizes()
    {
        var backend = CreateBackend();
        await backend.PutAsync("packs/00/a", new byte[3], PutMode.Overwrite);
        await backend.PutAsync("packs/01/b", new byte[5], PutMode.Overwrite);
        await backend.PutAsync("points/p", new byte[7], PutMode.Overwrite);
        await backend.PutAsync("packsx", new byte[1], PutMode.Overwrite);

        var packs = new List<BackendObjectInfo>();
        await foreach (var item in backend.ListAsync("packs/"))
        {
            packs.Add(item);
        }

        Assert.Equal(["packs/00/a", "packs/01/b"], packs.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal([3L, 5L], packs.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Length));

        var none = new List<BackendObjectInfo>();
        await foreach (var item in backend.ListAsync("index/"))
        {
            none.Add(item);
        }

        Assert.Empty(none);
    }

    [Fact]
    public async Task Delete_removes_the_object_and_tolerates_missing_ones()
    {
        var backend = CreateBackend();
        await backend.PutAsync("d/x", Bytes("x"), PutMode.Overwrite);
        await backend.DeleteAsync("d/x");
        Assert.False(await backend.ExistsAsync("d/x"));
        await backend.DeleteAsync("d/x");
        await backend.DeleteAsync("never/was");
    }

    [Fact]
    public async Task Concurrent_create_new_puts_let_exactly_one_writer_win()
    {
        var backend = CreateBackend();
        var attempts = Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await backend.PutAsync("locks/exclusive", Bytes($"writer {i}"), PutMode.CreateNew);
                return true;
            }
            catch (BackendObjectExistsException)
            {
                return false;
            }
        }).ToArray();
        var results = await Task.WhenAll(attempts);
        Assert.Equal(1, results.Count(won => won));
    }
}

using System.Text;
using Backup.Engine.Running;

namespace Backup.Engine.Tests.Running;

public sealed class ConsoleTapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_log_is_rotated_at_its_size_limit_and_late_attachers_get_the_recent_output_then_live_lines()
    {
        string log = Path.Combine(_dir, "console.log");
        var lines = new List<string>();
        using (var tap = new ConsoleTap(log, maxLogBytes: 4096))
        {
            tap.LineReceived += lines.Add;
            for (int i = 0; i < 1000; i++)
            {
                foreach (byte b in Encoding.ASCII.GetBytes($"line {i:D4}\n"))
                {
                    tap.Write(b);
                }
            }

            var live = new List<byte>();
            using (tap.Attach(bytes => live.AddRange(bytes), out byte[] recent))
            {
                Assert.EndsWith("line 0999\n", Encoding.ASCII.GetString(recent), StringComparison.Ordinal);
                foreach (byte b in "after\n"u8)
                {
                    tap.Write(b);
                }
            }

            Assert.Equal("after\n", Encoding.ASCII.GetString(live.ToArray()));
        }

        Assert.Equal(1001, lines.Count);
        Assert.True(new FileInfo(log).Length <= 4096);
        Assert.True(new FileInfo(log + ".1").Length <= 4096);
        Assert.EndsWith("after\n", File.ReadAllText(log), StringComparison.Ordinal);
    }
}

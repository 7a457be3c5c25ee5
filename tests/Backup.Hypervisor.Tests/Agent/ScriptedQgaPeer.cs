using System.Text;
using System.Text.Json;
using Backup.Hypervisor.Agent;

namespace Backup.Hypervisor.Tests.Agent;

/// <summary>
/// The guest's end of a QGA stream, scripted: records each request line the client sends (a leading 0xFF
/// stripped), answers guest-sync-delimited as qemu-ga does (0xFF, then the id) unless <see cref="AnswerSync"/> is
/// off, and answers other commands with whatever <see cref="Reply"/> returns (raw bytes, null for silence).
/// </summary>
internal sealed class ScriptedQgaPeer
{
    public ScriptedQgaPeer()
    {
        Client = new QemuGuestAgentClient(OnSend);
    }

    public QemuGuestAgentClient Client { get; }

    public List<string> Requests { get; } = [];

    public int SentinelsSent { get; private set; }

    public bool AnswerSync { get; set; } = true;

    /// <summary>Bytes sent before the sync answer (stale output of an earlier session).</summary>
    public byte[] BeforeSyncAnswer { get; set; } = [];

    public Func<string, JsonElement, byte[]?> Reply { get; set; } = (_, _) => null;

    public static byte[] Line(string json) => Encoding.UTF8.GetBytes(json + "\n");

    private void OnSend(byte[] bytes)
    {
        int start = 0;
        if (bytes.Length > 0 && bytes[0] == QemuGuestAgentClient.Sentinel)
        {
            SentinelsSent++;
            start = 1;
        }

        string line = Encoding.UTF8.GetString(bytes, start, bytes.Length - start).TrimEnd('\n');
        Requests.Add(line);
        using var request = JsonDocument.Parse(line);
        string command = request.RootElement.GetProperty("execute").GetString()!;
        if (command == "guest-sync-delimited")
        {
            if (AnswerSync)
            {
                long id = request.RootElement.GetProperty("arguments").GetProperty("id").GetInt64();
                Client.Receive(BeforeSyncAnswer);
                Client.Receive([QemuGuestAgentClient.Sentinel, .. Line($"{{\"return\": {id}}}")]);
            }

            return;
        }

        var arguments = request.RootElement.TryGetProperty("arguments", out var a) ? a.Clone() : default;
        if (Reply(command, arguments) is { } answer)
        {
            Client.Receive(answer);
        }
    }
}

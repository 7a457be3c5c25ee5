using System.Text;

namespace Backup.Cli.Terminal;

/// <summary>Forwards the host's keyboard (or redirected stdin) to a guest console on a background thread.</summary>
public static class KeyboardForwarder
{
    public static void Start(Action<byte[]> send)
    {
        var thread = new Thread(() => Pump(send)) { IsBackground = true, Name = "console-input" };
        thread.Start();
    }

    private static void Pump(Action<byte[]> send)
    {
        try
        {
            if (Console.IsInputRedirected)
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[256];
                int n;
                while ((n = stdin.Read(buffer, 0, buffer.Length)) > 0)
                {
                    send(buffer[..n]);
                }

                return;
            }

            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                byte[] bytes = key.Key switch
                {
                    ConsoleKey.Enter => "\r"u8.ToArray(),
                    ConsoleKey.Backspace => [0x7F],
                    ConsoleKey.UpArrow => "\e[A"u8.ToArray(),
                    ConsoleKey.DownArrow => "\e[B"u8.ToArray(),
                    ConsoleKey.RightArrow => "\e[C"u8.ToArray(),
                    ConsoleKey.LeftArrow => "\e[D"u8.ToArray(),
                    _ when key.KeyChar != '\0' => Encoding.UTF8.GetBytes([key.KeyChar]),
                    _ => [],
                };
                if (bytes.Length > 0)
                {
                    send(bytes);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // No console to read from (daemonised): the guest simply gets no keyboard input.
        }
        catch (IOException)
        {
        }
    }
}

using System.Text;

namespace Backup.Cli.Commands;

/// <summary>
/// Where a passphrase comes from, first match wins: <c>--password-file</c> (first line), the environment variable,
/// a no-echo prompt when stdin is a terminal. Otherwise a usage error.
/// </summary>
internal static class PassphraseReader
{
    public const string Variable = "BACKUP_PASSWORD";
    public const string TargetVariable = "BACKUP_TO_PASSWORD";

    public static string Read(FileInfo? file, string variable, string prompt, bool confirm)
    {
        if (file is not null)
        {
            if (!file.Exists)
            {
                throw new UsageException($"password file '{file.FullName}' does not exist");
            }

            var line = File.ReadLines(file.FullName).FirstOrDefault() ?? string.Empty;
            return NonEmpty(line.TrimEnd('\r'), $"password file '{file.FullName}'");
        }

        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        if (Console.IsInputRedirected)
        {
            throw new UsageException($"no passphrase: use --password-file, set {variable}, or run on a terminal to be prompted");
        }

        var passphrase = NonEmpty(Prompt(prompt), "the prompt");
        if (confirm && Prompt("Repeat the passphrase: ") != passphrase)
        {
            throw new UsageException("the passphrases differ");
        }

        return passphrase;
    }

    private static string NonEmpty(string passphrase, string source) =>
        passphrase.Length > 0 ? passphrase : throw new UsageException($"empty passphrase from {source}");

    private static string Prompt(string prompt)
    {
        Console.Error.Write(prompt);
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0)
                {
                    text.Length--;
                }

                continue;
            }

            if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return text.ToString();
    }
}

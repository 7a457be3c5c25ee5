using System.Text.RegularExpressions;

namespace Backup.Policies.Model;

/// <summary>
/// Where the repository passphrase of a policy comes from: one of <see cref="PassphraseFromEnvironment"/>
/// (<c>env:VAR</c>), <see cref="PassphraseFromFile"/> (<c>file:PATH</c>) or <see cref="PassphraseFromDefaultKeyFile"/>
/// (<c>none</c>: the appliance's local default key file, managed by the caller). Switch on the derived type.
/// </summary>
public abstract partial record PassphraseSource
{
    private protected PassphraseSource()
    {
    }

    /// <summary>
    /// Parses <c>env:VAR</c>, <c>file:PATH</c> (a relative path is resolved against <paramref name="dataFolder"/>) or
    /// <c>none</c>. Throws <see cref="FormatException"/> saying what is wrong.
    /// </summary>
    public static PassphraseSource Parse(string text, string dataFolder)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentException.ThrowIfNullOrEmpty(dataFolder);
        const string Forms = "expected env:VARIABLE, file:PATH or none";
        var value = text.Trim();
        if (value == "none")
        {
            return PassphraseFromDefaultKeyFile.Instance;
        }

        if (value.StartsWith("env:", StringComparison.Ordinal))
        {
            var variable = value["env:".Length..];
            return VariableName().IsMatch(variable)
                ? new PassphraseFromEnvironment(variable)
                : throw new FormatException($"'{variable}' is not an environment variable name (letters, digits and '_', not starting with a digit)");
        }

        if (value.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = value["file:".Length..];
            if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
            {
                throw new FormatException($"'{value}' names no passphrase file; {Forms}");
            }

            return new PassphraseFromFile(Path.GetFullPath(path, Path.GetFullPath(dataFolder)));
        }

        throw new FormatException($"'{value}' is not a passphrase source; {Forms}");
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex VariableName();
}

using System.Text.RegularExpressions;

namespace Backup.Policies.Model;

/// <summary>
/// The VMs a policy protects: every VM the appliance runs (<c>"*"</c>) or a list of VM names.
/// Names are compared exactly (case-sensitive, as the hypervisor names them).
/// </summary>
public sealed partial class VmSelection
{
    /// <summary>The longest VM name accepted.</summary>
    public const int MaxNameLength = 64;

    private readonly HashSet<string> _names;

    private VmSelection(bool all, IReadOnlyList<string> names)
    {
        IsAll = all;
        Names = names;
        _names = new HashSet<string>(names, StringComparer.Ordinal);
    }

    /// <summary>Every VM the appliance runs, including VMs added after the policy was loaded.</summary>
    public static VmSelection All { get; } = new(true, []);

    /// <summary>True for <c>"*"</c>: the policy protects every VM.</summary>
    public bool IsAll { get; }

    /// <summary>The VM names in the order written; empty when <see cref="IsAll"/>.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>A selection of the named VMs; refuses an empty list, duplicates and malformed names.</summary>
    public static VmSelection Of(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var list = names.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("a VM selection names no VM; use \"*\" for every VM", nameof(names));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in list)
        {
            if (DescribeInvalidName(name) is { } problem)
            {
                throw new ArgumentException(problem, nameof(names));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"VM '{name}' is listed twice", nameof(names));
            }
        }

        return new VmSelection(false, list);
    }

    /// <summary>Whether the VM named <paramref name="vmName"/> is protected by this selection.</summary>
    public bool Includes(string vmName)
    {
        ArgumentNullException.ThrowIfNull(vmName);
        return IsAll || _names.Contains(vmName);
    }

    /// <summary>
    /// Null when <paramref name="name"/> is a valid VM name (1-64 letters, digits, '.', '_' and '-', starting with
    /// a letter or digit), else what is wrong with it.
    /// </summary>
    public static string? DescribeInvalidName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "a VM name is empty";
        }

        if (name == "*")
        {
            return "\"*\" (every VM) cannot be combined with VM names; write vms: \"*\" on its own";
        }

        if (name.Length > MaxNameLength || !NamePattern().IsMatch(name))
        {
            return $"'{name}' is not a valid VM name (1-{MaxNameLength} letters, digits, '.', '_' and '-', starting with a letter or digit)";
        }

        return null;
    }

    /// <summary><c>*</c> or the names separated by commas.</summary>
    public override string ToString() => IsAll ? "*" : string.Join(", ", Names);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

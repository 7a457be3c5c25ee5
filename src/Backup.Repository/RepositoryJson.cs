using System.Text.Json;

namespace Backup.Repository;

/// <summary>The JSON conventions of every JSON object in the repository: camelCase names, no indentation.</summary>
internal static class RepositoryJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}

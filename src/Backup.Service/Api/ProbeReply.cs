namespace Backup.Service.Api;

/// <summary>The result of a probe as the API and `backup vm probe` show it.</summary>
public sealed record ProbeReply(string Target, bool Success, double Milliseconds, string Failure, string Reason, int? StatusCode, string? Body);

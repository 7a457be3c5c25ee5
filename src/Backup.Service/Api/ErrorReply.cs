namespace Backup.Service.Api;

/// <summary>Body of an API error: what is wrong, in a sentence.</summary>
public sealed record ErrorReply(string Error);

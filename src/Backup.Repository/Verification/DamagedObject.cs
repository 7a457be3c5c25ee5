namespace Backup.Repository.Verification;

/// <summary>An object that verify found missing or damaged, and what is wrong with it.</summary>
public sealed record DamagedObject(string Key, string Problem);

namespace Backup.Repository.Backends.Faults;

/// <summary>The backend operations a <see cref="FaultInjectingBackend"/> can fail.</summary>
public enum BackendOperation
{
    Put,
    Get,
    GetRange,
    Exists,
    List,
    Delete,
}

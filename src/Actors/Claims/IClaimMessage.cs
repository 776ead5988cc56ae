namespace Gpuckpt.Actors.Claims;

/// <summary>Answers of a <see cref="ProcessClaim"/> to the jobs actor.</summary>
public interface IClaimMessage;

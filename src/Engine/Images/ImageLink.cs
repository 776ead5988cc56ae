using System.Text.Json.Serialization;

namespace Gpuckpt.Engine.Images;

/// <summary>A relation between objects in different files of an image, recorded by the engine at checkpoint.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ImportLink), "import")]
public abstract record ImageLink;

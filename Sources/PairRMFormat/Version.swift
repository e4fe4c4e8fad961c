/// The one version of PairRM-Swift. The CLI (`pairrm --version`), the C library
/// (`pairrm_version()`), the converter's provenance (`general.converter`), the converted-model
/// cache key and `pairrm.pc` (Tools/install.sh reads this line) all take it from here.
/// Bump it in this file and add a CHANGELOG.md entry; nothing else names a version.
public enum PairRMVersion {
    public static let string = "1.1.0"
}

import Foundation

/// Where an export writes: a new or empty directory, or any directory with `--force`, so an export never mixes
/// its files into a folder of something else by accident.
public enum ExportDirectory {
    /// Throws naming `flag` when `directory` is a file, or exists and is not empty without `force`.
    public static func check(_ directory: URL, flag: String, force: Bool) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw TrainingError.invalidFlag(flag: flag, message: "\(directory.path) is a file, not a directory")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        if !entries.isEmpty && !force {
            throw TrainingError.invalidFlag(
                flag: flag, message: "\(directory.path) exists and is not empty (\(entries.count) entries); "
                    + "choose a new directory, or add --force to write over the files of the same names")
        }
    }
}

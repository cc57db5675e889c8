/**
 * The project's own files, read from disk: what topology/ (which does no I/O) is handed when a
 * config value names a file of the project, such as the audit policy.
 */
import { readFileSync } from "fs";
import * as path from "path";

/** Where the project's files are; config paths (the audit policy) are relative to it. */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** A project file by its path relative to PROJECT_ROOT; throws when it cannot be read. */
export function readProjectFile(relativePath: string): string {
    return readFileSync(path.resolve(PROJECT_ROOT, relativePath), "utf8");
}

import { readFileSync } from "fs";
import * as path from "path";

/** Root of the remote scripts, found relative to this file so the CLI and the tests agree. */
export const SCRIPTS_DIR = path.resolve(__dirname, "..", "scripts");

/** The text of a script under scripts/, shipped to the remote host on stdin. */
export function scriptText(relativePath: string): string {
    return readFileSync(path.join(SCRIPTS_DIR, relativePath), "utf8");
}

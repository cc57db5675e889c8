/**
 * A PHP script shipped on stdin to `php --` together with the libraries it requires, as one
 * text: the libraries first, then the script, inside one `<?php` block (each file's own opening
 * tag after the first is dropped). The PHP counterpart of components/kubeadm/bundle.ts: each
 * script requires its library only when it is not already defined (function_exists), so shipped
 * it uses the bundled copy and run by hand the file next to it.
 */
import { scriptText } from "../scriptFile";

/** HAProxy's `show stat` CSV reader, shared by the pfSense reconcile script and the pool gate. */
export const HAPROXY_STATS_LIB = "haproxy/stats.php";

export interface PhpBundleSpec {
    /** Libraries, in order (paths under scripts/). */
    readonly libs: readonly string[];
    /** The script that runs. */
    readonly main: string;
}

const OPENING_TAG = /^<\?php[ \t]*\n/;

/** A file's code without its opening tag; refused if it could print text (no tag, or a closing one). */
function phpCode(relativePath: string): string {
    const text = scriptText(relativePath);
    if (!OPENING_TAG.test(text)) throw new Error(`${relativePath} must start with a line "<?php"`);
    if (/\?>\s*$/.test(text)) throw new Error(`${relativePath} must not end with a closing tag: what follows it would be printed`);
    return text.replace(OPENING_TAG, "");
}

export function phpBundle(spec: PhpBundleSpec): string {
    const files = [...spec.libs, spec.main];
    return [`<?php\n// Bundle of ${files.join(", ")} (components/shipping/phpBundle.ts).\n`, ...files.map(phpCode)].join("\n");
}

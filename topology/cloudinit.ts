/**
 * The rule for a new master's cloud-init user-data: it prepares the node and never joins it.
 * The program renders the user-data (components/shipping/userData.ts) and the policies check it
 * here.
 */
import { parse } from "yaml";

/**
 * Where a user-data document would run `kubeadm join`, or undefined. A master's user-data must
 * never join: the program joins masters as control-plane members, one at a time, with fresh
 * join material; a join in cloud-init would make the VM a worker (or a second, unordered
 * member). Looks at what cloud-init executes: runcmd and bootcmd, every file it writes (the
 * scripts runcmd starts), and a user-data that is a script itself. Quoted text and comments are
 * not commands (the prepare script's log line mentions kubeadm join).
 */
export function findKubeadmJoin(userData: string): string | undefined {
    if (!userData.startsWith("#cloud-config")) return runsKubeadmJoin(userData) ? "the user-data script" : undefined;
    let doc: unknown;
    try {
        doc = parse(userData);
    } catch {
        return runsKubeadmJoin(userData) ? "the user-data (not valid YAML)" : undefined;
    }
    const d = (doc ?? {}) as Record<string, unknown>;
    for (const key of ["bootcmd", "runcmd"]) {
        const entries = Array.isArray(d[key]) ? (d[key] as unknown[]) : [];
        for (const [i, entry] of entries.entries()) {
            const line = Array.isArray(entry) ? entry.map(String).join(" ") : String(entry);
            if (runsKubeadmJoin(line)) return `${key}[${i}]`;
        }
    }
    const files = Array.isArray(d.write_files) ? (d.write_files as Record<string, unknown>[]) : [];
    for (const file of files) {
        if (typeof file?.content === "string" && runsKubeadmJoin(file.content)) return `write_files ${String(file.path)}`;
    }
    return undefined;
}

/** A shell text that calls `kubeadm join`, outside comments and quoted strings. */
function runsKubeadmJoin(shell: string): boolean {
    return shell.split("\n").some((line) => {
        const code = line
            .replace(/'[^']*'/g, "''")
            .replace(/"(?:[^"\\]|\\.)*"/g, '""')
            .replace(/(^|\s)#.*$/, "");
        return /\bkubeadm\s+join\b/.test(code);
    });
}

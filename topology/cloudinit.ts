/**
 * The cloud-init user-data for a new master, rendered by the program and uploaded as a Proxmox
 * snippet. Pure: the node-prepare script's text is passed in, so tests render it without disk.
 */
import { parse, stringify } from "yaml";

export interface MasterUserDataInput {
    readonly hostname: string;
    readonly domain: string;
    readonly user: string;
    readonly publicKey: string;
    readonly kubernetesVersion: string;
    /** Text of scripts/cloud-init/k8s-node-prepare.sh. */
    readonly prepareScript: string;
}

export const PREPARE_SCRIPT_PATH = "/usr/local/sbin/k8s-node-prepare.sh";

export function renderMasterUserData(input: MasterUserDataInput): string {
    const document = {
        hostname: input.hostname,
        fqdn: `${input.hostname}.${input.domain}`,
        manage_etc_hosts: true,
        users: [
            {
                name: input.user,
                groups: ["sudo"],
                shell: "/bin/bash",
                sudo: "ALL=(ALL) NOPASSWD:ALL",
                lock_passwd: true,
                ssh_authorized_keys: [input.publicKey],
            },
        ],
        ssh_pwauth: false,
        package_update: false,
        packages: ["qemu-guest-agent"],
        write_files: [{ path: PREPARE_SCRIPT_PATH, permissions: "0755", owner: "root:root", content: input.prepareScript }],
        // Masters are prepared for kubeadm but never join here: the program joins them as
        // control-plane members, one at a time, with fresh join material.
        runcmd: [
            ["systemctl", "enable", "--now", "qemu-guest-agent"],
            ["bash", PREPARE_SCRIPT_PATH, input.kubernetesVersion],
        ],
        final_message: "cloud-init done after $UPTIME s: ready for kubeadm join --control-plane",
    };
    return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}

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

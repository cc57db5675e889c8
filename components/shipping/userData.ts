/**
 * The cloud-init user-data for a new master, rendered by the program and uploaded as a Proxmox
 * snippet: it ships scripts/cloud-init/k8s-node-prepare.sh to the VM and runs it. The
 * node-prepare script's text is passed in, so tests render it without disk. What it must never
 * do (join the node) is topology/cloudinit.ts's rule.
 */
import { stringify } from "yaml";

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

import { createHash } from "crypto";

/** Proxmox's own OUI, the prefix its UI gives generated NICs. */
const PROXMOX_OUI = "BC:24:11";

/**
 * A MAC that stays the same across re-creates of the VM, so DHCP reservations and ARP caches
 * keep working when a master is rolled back and re-added. Derived from the stack and the VMID.
 */
export function stableMac(project: string, stack: string, vmId: number): string {
    const digest = createHash("sha256").update(`${project}/${stack}/${vmId}`).digest();
    const tail = [digest[0], digest[1], digest[2]].map((b) => b.toString(16).padStart(2, "0").toUpperCase());
    return [PROXMOX_OUI, ...tail].join(":");
}

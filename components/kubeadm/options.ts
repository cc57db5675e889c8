/** `sudo` for a non-root SSH user; commands must not wait for a password. */
export function asRoot(user: string): string {
    return user === "root" ? "" : "sudo -n ";
}

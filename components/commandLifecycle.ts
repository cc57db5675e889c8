/**
 * What a command does on an UPDATE, chosen on purpose for every step. pulumi-command 1.2.1 replaces
 * a command when `triggers` change (delete, then create) and UPDATES it on any other changed input,
 * the SSH connection included (a rotated key, a dial setting): the update runs `update`, or, when
 * it is unset, `create` again. Every command of the stack declares one of the two below.
 */
import { shellQuote } from "./kubeadm/bundle";

/** Marks the no-op update's message, so tests and the plan can tell it from a script. */
export const NO_RERUN_MARKER = "nothing re-run";

/** A check, gate or idempotent reconcile: an update runs the create script again (harmless, keeps the state honest). */
export function rerunOnUpdate(create: string): { readonly update: string };
export function rerunOnUpdate<T extends { readonly create: string }>(command: T): T & { readonly update: string };
export function rerunOnUpdate(arg: string | { readonly create: string }): { readonly update: string } {
    return typeof arg === "string" ? { update: arg } : { ...arg, update: arg.create };
}

/**
 * A step whose re-run is destructive or pointless once done: an update only says so. What should
 * re-run it goes in `triggers` (a replace), where its delete script makes a replace safe.
 */
export function noRerunOnUpdate(step: string): { readonly update: string } {
    return { update: `echo ${shellQuote(`${step}: inputs changed (connection or script); ${NO_RERUN_MARKER}`)}` };
}

/** Whether an update command is noRerunOnUpdate's. */
export function isNoRerunUpdate(update: unknown): boolean {
    return typeof update === "string" && /^echo '[^']*'$/.test(update) && update.includes(NO_RERUN_MARKER);
}

/**
 * Catalogue entries on the transport and the controller's life: keep-alive expiry, controller
 * fatal, target teardown and setup during I/O (nvme/061), connection resets mid-transfer, digest
 * errors, AEN storms, discovery changes, reconnect timing.
 */
import type { CatalogueEntry } from './catalogue-types.js'

export const TRANSPORT_ENTRIES: CatalogueEntry[] = []

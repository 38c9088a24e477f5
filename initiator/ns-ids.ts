/**
 * A namespace's identity across the controllers of a subsystem (NS Identification Descriptors:
 * EUI-64, NGUID, UUID, CSI): what makes paths on several controllers one multipath head.
 */
/** Namespace identifiers used to match a namespace across controllers (NS Identification Descriptors). */
export interface NsIds {
  eui64?: string
  nguid?: string
  uuid?: string
  csi?: number
}

export function nsIdsEqual(a: NsIds, b: NsIds): boolean {
  return a.eui64 === b.eui64 && a.nguid === b.nguid && a.uuid === b.uuid && (a.csi ?? 0) === (b.csi ?? 0)
}
export function nsIdsKey(ids: NsIds): string {
  return `eui64=${ids.eui64 ?? '-'},nguid=${ids.nguid ?? '-'},uuid=${ids.uuid ?? '-'},csi=${ids.csi ?? 0}`
}

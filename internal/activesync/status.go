package activesync

import "fmt"

// This file holds every status code the server writes, as typed values, so a handler
// names the code it means and one place decides how it reaches the wire.

// commonStatus is a status code of [MS-ASCMD] 2.2.2 (14.0 and later), valid in the Status
// element of any command's response.
type commonStatus int

const (
	statusInvalidMIME          commonStatus = 107
	statusMailboxQuotaExceeded commonStatus = 113
	statusMailSubmissionFailed commonStatus = 120
	statusDeviceBlocked        commonStatus = 129
	statusRemoteWipeRequested  commonStatus = 140
	statusDeviceNotProvisioned commonStatus = 142
	statusPolicyRefresh        commonStatus = 143
	statusInvalidPolicyKey     commonStatus = 144
	statusItemNotFound         commonStatus = 150
)

// syncStatus is airsync:Status ([MS-ASCMD] 2.2.3.177.17).
type syncStatus int

const (
	syncOK              syncStatus = 1
	syncInvalidKey      syncStatus = 3
	syncProtocolError   syncStatus = 4
	syncConversionError syncStatus = 6
	syncObjectNotFound  syncStatus = 8
	syncHierarchyChange syncStatus = 12
	syncIncomplete      syncStatus = 13
	syncInvalidWait     syncStatus = 14
	syncInvalidRequest  syncStatus = 15
)

// folderStatus is the Status of FolderSync, FolderCreate, FolderUpdate and FolderDelete
// ([MS-ASCMD] 2.2.3.177.2–2.2.3.177.5).
type folderStatus int

const (
	folderOK         folderStatus = 1
	folderExists     folderStatus = 2
	folderSystem     folderStatus = 3
	folderNotFound   folderStatus = 4
	folderNoParent   folderStatus = 5
	folderInvalidKey folderStatus = 9
	folderBadRequest folderStatus = 10
)

// pingStatus is ping:Status ([MS-ASCMD] 2.2.3.177.12).
type pingStatus int

const (
	pingExpired          pingStatus = 1
	pingChanges          pingStatus = 2
	pingMissingParams    pingStatus = 3
	pingSyntaxError      pingStatus = 4
	pingBadHeartbeat     pingStatus = 5
	pingTooManyFolders   pingStatus = 6
	pingHierarchyChanged pingStatus = 7
)

// provisionStatus is provision:Status under Provision ([MS-ASPROV] 2.2.2.54.2).
type provisionStatus int

const (
	provisionOK            provisionStatus = 1
	provisionProtocolError provisionStatus = 2
)

// policyStatus is provision:Status under Policy as the server sends it ([MS-ASPROV]
// 2.2.2.54.1).
type policyStatus int

const (
	policyOK          policyStatus = 1
	policyUnknownType policyStatus = 3
	policyWrongKey    policyStatus = 5
)

// moveStatus is move:Status ([MS-ASCMD] 2.2.3.177.9).
type moveStatus int

const (
	moveBadSource   moveStatus = 1
	moveBadDest     moveStatus = 2
	moveOK          moveStatus = 3
	moveSameFolder  moveStatus = 4
	moveServerError moveStatus = 5
)

// estimateStatus is getitemestimate:Status ([MS-ASCMD] 2.2.3.177.6).
type estimateStatus int

const (
	estimateOK                estimateStatus = 1
	estimateInvalidCollection estimateStatus = 2
	estimateNotPrimed         estimateStatus = 3
	estimateInvalidKey        estimateStatus = 4
)

// itemOpStatus is itemoperations:Status ([MS-ASCMD] 2.2.3.177.7).
type itemOpStatus int

const (
	itemOpOK            itemOpStatus = 1
	itemOpProtocolError itemOpStatus = 2
	itemOpNotFound      itemOpStatus = 6
	itemOpBadRange      itemOpStatus = 8
	itemOpBadStore      itemOpStatus = 9
	itemOpConversion    itemOpStatus = 14
	itemOpPartial       itemOpStatus = 17
)

// settingsStatus is settings:Status ([MS-ASCMD] 2.2.3.177.14).
type settingsStatus int

const (
	settingsOK            settingsStatus = 1
	settingsProtocolError settingsStatus = 2
)

// text renders any of the status types as the element text.
func text[T ~int](s T) string { return fmt.Sprint(int(s)) }

// searchStatus is search:Status ([MS-ASCMD] 2.2.3.177.16).
type searchStatus int

const (
	searchOK             searchStatus = 1
	searchInvalidRequest searchStatus = 2
	searchNotFound       searchStatus = 6
	searchEndOfRange     searchStatus = 12
)

// resolveStatus is resolverecipients:Status ([MS-ASCMD] 2.2.3.177.13).
type resolveStatus int

const (
	resolveOK            resolveStatus = 1
	resolveAmbiguous     resolveStatus = 2
	resolveAmbiguousSome resolveStatus = 3
	resolveNotFound      resolveStatus = 4
	resolveProtocolError resolveStatus = 5
)

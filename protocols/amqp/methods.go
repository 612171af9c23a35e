package amqp

// Class ids (AMQP 0-9-1, amqp0-9-1.xml).
const (
	classConnection = 10
	classChannel    = 20
	classExchange   = 40
	classQueue      = 50
	classBasic      = 60
	classConfirm    = 85
	classTx         = 90
)

// role is what a method is in the request/response model.
type role uint8

const (
	roleUnknown  role = iota
	roleRequest       // a synchronous method: its -ok answers it
	roleResponse      // an -ok method, basic.get-empty
	roleAsync         // no reply: a request from the client, unsolicited from the server
)

// method describes one method: its name and role, whether it carries
// content, and which argument (by the argument layout) names its target.
type method struct {
	name    string
	role    role
	content bool // followed by a content header and body frames
	// nowait is the bit index of the no-wait flag in the method's bit
	// argument octet, or -1: with it set the request gets no -ok.
	nowait int8
}

// methodKey packs class and method id.
func methodKey(class, id uint16) uint32 { return uint32(class)<<16 | uint32(id) }

// Method ids, packed with methodKey.
const (
	mConnectionStart        = classConnection<<16 | 10
	mConnectionStartOk      = classConnection<<16 | 11
	mConnectionSecure       = classConnection<<16 | 20
	mConnectionSecureOk     = classConnection<<16 | 21
	mConnectionTune         = classConnection<<16 | 30
	mConnectionTuneOk       = classConnection<<16 | 31
	mConnectionOpen         = classConnection<<16 | 40
	mConnectionOpenOk       = classConnection<<16 | 41
	mConnectionClose        = classConnection<<16 | 50
	mConnectionCloseOk      = classConnection<<16 | 51
	mConnectionBlocked      = classConnection<<16 | 60
	mConnectionUnblocked    = classConnection<<16 | 61
	mConnectionUpdateSecret = classConnection<<16 | 70
	mConnectionUpdateSecOk  = classConnection<<16 | 71
	mChannelOpen            = classChannel<<16 | 10
	mChannelOpenOk          = classChannel<<16 | 11
	mChannelFlow            = classChannel<<16 | 20
	mChannelFlowOk          = classChannel<<16 | 21
	mChannelClose           = classChannel<<16 | 40
	mChannelCloseOk         = classChannel<<16 | 41
	mExchangeDeclare        = classExchange<<16 | 10
	mExchangeDeclareOk      = classExchange<<16 | 11
	mExchangeDelete         = classExchange<<16 | 20
	mExchangeDeleteOk       = classExchange<<16 | 21
	mExchangeBind           = classExchange<<16 | 30
	mExchangeBindOk         = classExchange<<16 | 31
	mExchangeUnbind         = classExchange<<16 | 40
	mExchangeUnbindOk       = classExchange<<16 | 51
	mQueueDeclare           = classQueue<<16 | 10
	mQueueDeclareOk         = classQueue<<16 | 11
	mQueueBind              = classQueue<<16 | 20
	mQueueBindOk            = classQueue<<16 | 21
	mQueuePurge             = classQueue<<16 | 30
	mQueuePurgeOk           = classQueue<<16 | 31
	mQueueDelete            = classQueue<<16 | 40
	mQueueDeleteOk          = classQueue<<16 | 41
	mQueueUnbind            = classQueue<<16 | 50
	mQueueUnbindOk          = classQueue<<16 | 51
	mBasicQos               = classBasic<<16 | 10
	mBasicQosOk             = classBasic<<16 | 11
	mBasicConsume           = classBasic<<16 | 20
	mBasicConsumeOk         = classBasic<<16 | 21
	mBasicCancel            = classBasic<<16 | 30
	mBasicCancelOk          = classBasic<<16 | 31
	mBasicPublish           = classBasic<<16 | 40
	mBasicReturn            = classBasic<<16 | 50
	mBasicDeliver           = classBasic<<16 | 60
	mBasicGet               = classBasic<<16 | 70
	mBasicGetOk             = classBasic<<16 | 71
	mBasicGetEmpty          = classBasic<<16 | 72
	mBasicAck               = classBasic<<16 | 80
	mBasicReject            = classBasic<<16 | 90
	mBasicRecoverAsync      = classBasic<<16 | 100
	mBasicRecover           = classBasic<<16 | 110
	mBasicRecoverOk         = classBasic<<16 | 111
	mBasicNack              = classBasic<<16 | 120
	mConfirmSelect          = classConfirm<<16 | 10
	mConfirmSelectOk        = classConfirm<<16 | 11
	mTxSelect               = classTx<<16 | 10
	mTxSelectOk             = classTx<<16 | 11
	mTxCommit               = classTx<<16 | 20
	mTxCommitOk             = classTx<<16 | 21
	mTxRollback             = classTx<<16 | 30
	mTxRollbackOk           = classTx<<16 | 31
)

// lookupMethod returns the method with the packed id k.
func lookupMethod(k uint32) (method, bool) {
	switch k {
	case mConnectionStart:
		return method{"connection.start", roleRequest, false, -1}, true
	case mConnectionStartOk:
		return method{"connection.start-ok", roleResponse, false, -1}, true
	case mConnectionSecure:
		return method{"connection.secure", roleRequest, false, -1}, true
	case mConnectionSecureOk:
		return method{"connection.secure-ok", roleResponse, false, -1}, true
	case mConnectionTune:
		return method{"connection.tune", roleRequest, false, -1}, true
	case mConnectionTuneOk:
		return method{"connection.tune-ok", roleResponse, false, -1}, true
	case mConnectionOpen:
		return method{"connection.open", roleRequest, false, -1}, true
	case mConnectionOpenOk:
		return method{"connection.open-ok", roleResponse, false, -1}, true
	case mConnectionClose:
		return method{"connection.close", roleRequest, false, -1}, true
	case mConnectionCloseOk:
		return method{"connection.close-ok", roleResponse, false, -1}, true
	case mConnectionBlocked:
		return method{"connection.blocked", roleAsync, false, -1}, true
	case mConnectionUnblocked:
		return method{"connection.unblocked", roleAsync, false, -1}, true
	case mConnectionUpdateSecret:
		return method{"connection.update-secret", roleRequest, false, -1}, true
	case mConnectionUpdateSecOk:
		return method{"connection.update-secret-ok", roleResponse, false, -1}, true
	case mChannelOpen:
		return method{"channel.open", roleRequest, false, -1}, true
	case mChannelOpenOk:
		return method{"channel.open-ok", roleResponse, false, -1}, true
	case mChannelFlow:
		return method{"channel.flow", roleRequest, false, -1}, true
	case mChannelFlowOk:
		return method{"channel.flow-ok", roleResponse, false, -1}, true
	case mChannelClose:
		return method{"channel.close", roleRequest, false, -1}, true
	case mChannelCloseOk:
		return method{"channel.close-ok", roleResponse, false, -1}, true
	case mExchangeDeclare:
		return method{"exchange.declare", roleRequest, false, 4}, true
	case mExchangeDeclareOk:
		return method{"exchange.declare-ok", roleResponse, false, -1}, true
	case mExchangeDelete:
		return method{"exchange.delete", roleRequest, false, 1}, true
	case mExchangeDeleteOk:
		return method{"exchange.delete-ok", roleResponse, false, -1}, true
	case mExchangeBind:
		return method{"exchange.bind", roleRequest, false, 0}, true
	case mExchangeBindOk:
		return method{"exchange.bind-ok", roleResponse, false, -1}, true
	case mExchangeUnbind:
		return method{"exchange.unbind", roleRequest, false, 0}, true
	case mExchangeUnbindOk:
		return method{"exchange.unbind-ok", roleResponse, false, -1}, true
	case mQueueDeclare:
		return method{"queue.declare", roleRequest, false, 4}, true
	case mQueueDeclareOk:
		return method{"queue.declare-ok", roleResponse, false, -1}, true
	case mQueueBind:
		return method{"queue.bind", roleRequest, false, 0}, true
	case mQueueBindOk:
		return method{"queue.bind-ok", roleResponse, false, -1}, true
	case mQueuePurge:
		return method{"queue.purge", roleRequest, false, 0}, true
	case mQueuePurgeOk:
		return method{"queue.purge-ok", roleResponse, false, -1}, true
	case mQueueDelete:
		return method{"queue.delete", roleRequest, false, 2}, true
	case mQueueDeleteOk:
		return method{"queue.delete-ok", roleResponse, false, -1}, true
	case mQueueUnbind:
		return method{"queue.unbind", roleRequest, false, -1}, true
	case mQueueUnbindOk:
		return method{"queue.unbind-ok", roleResponse, false, -1}, true
	case mBasicQos:
		return method{"basic.qos", roleRequest, false, -1}, true
	case mBasicQosOk:
		return method{"basic.qos-ok", roleResponse, false, -1}, true
	case mBasicConsume:
		return method{"basic.consume", roleRequest, false, 3}, true
	case mBasicConsumeOk:
		return method{"basic.consume-ok", roleResponse, false, -1}, true
	case mBasicCancel:
		return method{"basic.cancel", roleRequest, false, 0}, true
	case mBasicCancelOk:
		return method{"basic.cancel-ok", roleResponse, false, -1}, true
	case mBasicPublish:
		return method{"basic.publish", roleAsync, true, -1}, true
	case mBasicReturn:
		return method{"basic.return", roleAsync, true, -1}, true
	case mBasicDeliver:
		return method{"basic.deliver", roleAsync, true, -1}, true
	case mBasicGet:
		return method{"basic.get", roleRequest, false, -1}, true
	case mBasicGetOk:
		return method{"basic.get-ok", roleResponse, true, -1}, true
	case mBasicGetEmpty:
		return method{"basic.get-empty", roleResponse, false, -1}, true
	case mBasicAck:
		return method{"basic.ack", roleAsync, false, -1}, true
	case mBasicReject:
		return method{"basic.reject", roleAsync, false, -1}, true
	case mBasicRecoverAsync:
		return method{"basic.recover-async", roleAsync, false, -1}, true
	case mBasicRecover:
		return method{"basic.recover", roleRequest, false, -1}, true
	case mBasicRecoverOk:
		return method{"basic.recover-ok", roleResponse, false, -1}, true
	case mBasicNack:
		return method{"basic.nack", roleAsync, false, -1}, true
	case mConfirmSelect:
		return method{"confirm.select", roleRequest, false, 0}, true
	case mConfirmSelectOk:
		return method{"confirm.select-ok", roleResponse, false, -1}, true
	case mTxSelect:
		return method{"tx.select", roleRequest, false, -1}, true
	case mTxSelectOk:
		return method{"tx.select-ok", roleResponse, false, -1}, true
	case mTxCommit:
		return method{"tx.commit", roleRequest, false, -1}, true
	case mTxCommitOk:
		return method{"tx.commit-ok", roleResponse, false, -1}, true
	case mTxRollback:
		return method{"tx.rollback", roleRequest, false, -1}, true
	case mTxRollbackOk:
		return method{"tx.rollback-ok", roleResponse, false, -1}, true
	}
	return method{}, false
}

// replyCodeName returns the AMQP constant name of a reply code (the
// error.type of a failed operation), or "".
func replyCodeName(code uint16) string {
	switch code {
	case 200:
		return "REPLY_SUCCESS"
	case 311:
		return "CONTENT_TOO_LARGE"
	case 312:
		return "NO_ROUTE"
	case 313:
		return "NO_CONSUMERS"
	case 320:
		return "CONNECTION_FORCED"
	case 402:
		return "INVALID_PATH"
	case 403:
		return "ACCESS_REFUSED"
	case 404:
		return "NOT_FOUND"
	case 405:
		return "RESOURCE_LOCKED"
	case 406:
		return "PRECONDITION_FAILED"
	case 501:
		return "FRAME_ERROR"
	case 502:
		return "SYNTAX_ERROR"
	case 503:
		return "COMMAND_INVALID"
	case 504:
		return "CHANNEL_ERROR"
	case 505:
		return "UNEXPECTED_FRAME"
	case 506:
		return "RESOURCE_ERROR"
	case 530:
		return "NOT_ALLOWED"
	case 540:
		return "NOT_IMPLEMENTED"
	case 541:
		return "INTERNAL_ERROR"
	}
	return ""
}

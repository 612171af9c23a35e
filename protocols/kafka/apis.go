package kafka

import "strconv"

// Kafka API keys the parser decodes beyond the request header.
const (
	keyProduce            = 0
	keyFetch              = 1
	keyListOffsets        = 2
	keyMetadata           = 3
	keyControlledShutdown = 7
	keyOffsetCommit       = 8
	keyOffsetFetch        = 9
	keyFindCoordinator    = 10
	keyJoinGroup          = 11
	keyHeartbeat          = 12
	keyLeaveGroup         = 13
	keySyncGroup          = 14
	keyListGroups         = 16
	keySaslHandshake      = 17
	keyApiVersions        = 18
	keyInitProducerID     = 22
	keyAddOffsetsToTxn    = 25
	keyEndTxn             = 26
	keySaslAuthenticate   = 36
)

// api describes one API key: its name, the highest version known, and the
// first flexible version (request header v2, response header v1, compact
// strings and tagged fields); flex < 0 when no version is flexible.
type api struct {
	name string
	max  int16
	flex int16
}

// apis is indexed by API key, as listed by the Kafka protocol guide
// (https://kafka.apache.org/protocol#protocol_api_keys) and the message
// definitions of Apache Kafka 4.1 (clients/src/main/resources/common/message).
var apis = [...]api{
	0:  {"Produce", 13, 9},
	1:  {"Fetch", 18, 12},
	2:  {"ListOffsets", 10, 6},
	3:  {"Metadata", 13, 9},
	4:  {"LeaderAndIsr", 7, 4},
	5:  {"StopReplica", 4, 2},
	6:  {"UpdateMetadata", 8, 6},
	7:  {"ControlledShutdown", 3, 3},
	8:  {"OffsetCommit", 10, 8},
	9:  {"OffsetFetch", 10, 6},
	10: {"FindCoordinator", 6, 3},
	11: {"JoinGroup", 9, 6},
	12: {"Heartbeat", 4, 4},
	13: {"LeaveGroup", 5, 4},
	14: {"SyncGroup", 5, 4},
	15: {"DescribeGroups", 6, 5},
	16: {"ListGroups", 5, 3},
	17: {"SaslHandshake", 1, -1},
	18: {"ApiVersions", 4, 3},
	19: {"CreateTopics", 7, 5},
	20: {"DeleteTopics", 6, 4},
	21: {"DeleteRecords", 2, 2},
	22: {"InitProducerId", 6, 2},
	23: {"OffsetForLeaderEpoch", 4, 4},
	24: {"AddPartitionsToTxn", 5, 3},
	25: {"AddOffsetsToTxn", 4, 3},
	26: {"EndTxn", 5, 3},
	27: {"WriteTxnMarkers", 2, 1},
	28: {"TxnOffsetCommit", 5, 3},
	29: {"DescribeAcls", 3, 2},
	30: {"CreateAcls", 3, 2},
	31: {"DeleteAcls", 3, 2},
	32: {"DescribeConfigs", 4, 4},
	33: {"AlterConfigs", 2, 2},
	34: {"AlterReplicaLogDirs", 2, 2},
	35: {"DescribeLogDirs", 4, 2},
	36: {"SaslAuthenticate", 2, 2},
	37: {"CreatePartitions", 3, 2},
	38: {"CreateDelegationToken", 3, 2},
	39: {"RenewDelegationToken", 2, 2},
	40: {"ExpireDelegationToken", 2, 2},
	41: {"DescribeDelegationToken", 3, 2},
	42: {"DeleteGroups", 2, 2},
	43: {"ElectLeaders", 2, 2},
	44: {"IncrementalAlterConfigs", 1, 1},
	45: {"AlterPartitionReassignments", 1, 0},
	46: {"ListPartitionReassignments", 0, 0},
	47: {"OffsetDelete", 0, -1},
	48: {"DescribeClientQuotas", 1, 1},
	49: {"AlterClientQuotas", 1, 1},
	50: {"DescribeUserScramCredentials", 0, 0},
	51: {"AlterUserScramCredentials", 0, 0},
	52: {"Vote", 2, 0},
	53: {"BeginQuorumEpoch", 1, 1},
	54: {"EndQuorumEpoch", 1, 1},
	55: {"DescribeQuorum", 2, 0},
	56: {"AlterPartition", 3, 0},
	57: {"UpdateFeatures", 2, 0},
	58: {"Envelope", 0, 0},
	59: {"FetchSnapshot", 1, 0},
	60: {"DescribeCluster", 2, 0},
	61: {"DescribeProducers", 0, 0},
	62: {"BrokerRegistration", 4, 0},
	63: {"BrokerHeartbeat", 1, 0},
	64: {"UnregisterBroker", 0, 0},
	65: {"DescribeTransactions", 0, 0},
	66: {"ListTransactions", 2, 0},
	67: {"AllocateProducerIds", 0, 0},
	68: {"ConsumerGroupHeartbeat", 1, 0},
	69: {"ConsumerGroupDescribe", 1, 0},
	70: {"ControllerRegistration", 0, 0},
	71: {"GetTelemetrySubscriptions", 0, 0},
	72: {"PushTelemetry", 0, 0},
	73: {"AssignReplicasToDirs", 0, 0},
	74: {"ListConfigResources", 1, 0},
	75: {"DescribeTopicPartitions", 0, 0},
	76: {"ShareGroupHeartbeat", 1, 0},
	77: {"ShareGroupDescribe", 1, 0},
	78: {"ShareFetch", 1, 0},
	79: {"ShareAcknowledge", 1, 0},
	80: {"AddRaftVoter", 0, 0},
	81: {"RemoveRaftVoter", 0, 0},
	82: {"UpdateRaftVoter", 0, 0},
	83: {"InitializeShareGroupState", 0, 0},
	84: {"ReadShareGroupState", 0, 0},
	85: {"WriteShareGroupState", 0, 0},
	86: {"DeleteShareGroupState", 0, 0},
	87: {"ReadShareGroupStateSummary", 0, 0},
	88: {"StreamsGroupHeartbeat", 0, 0},
	89: {"StreamsGroupDescribe", 0, 0},
	90: {"DescribeShareGroupOffsets", 0, 0},
	91: {"AlterShareGroupOffsets", 0, 0},
	92: {"DeleteShareGroupOffsets", 0, 0},
}

// lookupAPI returns the API of key and whether it is known.
func lookupAPI(key int16) (api, bool) {
	if key < 0 || int(key) >= len(apis) {
		return api{}, false
	}
	return apis[key], true
}

// apiName returns the name of key, or "ApiKey<n>" for keys not in the table.
func apiName(key int16) string {
	if a, ok := lookupAPI(key); ok {
		return a.name
	}
	return "ApiKey" + strconv.Itoa(int(key))
}

// flexible reports whether version v of key uses the flexible encoding.
func flexible(key, v int16) bool {
	a, ok := lookupAPI(key)
	return ok && a.flex >= 0 && v >= a.flex
}

// requestHeaderVersion returns the request header version (0, 1 or 2) of
// version v of key: v2 for flexible versions, v0 for ControlledShutdown v0
// only (it predates client_id).
func requestHeaderVersion(key, v int16) int {
	switch {
	case key == keyControlledShutdown && v == 0:
		return 0
	case flexible(key, v):
		return 2
	}
	return 1
}

// responseHeaderVersion returns the response header version (0 or 1):
// v1 for flexible versions, except ApiVersions, whose response header is
// always v0 so that a client can read it whatever version the broker
// supports (KIP-511).
func responseHeaderVersion(key, v int16) int {
	if key != keyApiVersions && flexible(key, v) {
		return 1
	}
	return 0
}

// errorNames are the error codes 0..120 (org.apache.kafka.common.protocol.Errors).
var errorNames = [...]string{
	"NONE", "OFFSET_OUT_OF_RANGE", "CORRUPT_MESSAGE", "UNKNOWN_TOPIC_OR_PARTITION",
	"INVALID_FETCH_SIZE", "LEADER_NOT_AVAILABLE", "NOT_LEADER_OR_FOLLOWER",
	"REQUEST_TIMED_OUT", "BROKER_NOT_AVAILABLE", "REPLICA_NOT_AVAILABLE",
	"MESSAGE_TOO_LARGE", "STALE_CONTROLLER_EPOCH", "OFFSET_METADATA_TOO_LARGE",
	"NETWORK_EXCEPTION", "COORDINATOR_LOAD_IN_PROGRESS", "COORDINATOR_NOT_AVAILABLE",
	"NOT_COORDINATOR", "INVALID_TOPIC_EXCEPTION", "RECORD_LIST_TOO_LARGE",
	"NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "INVALID_REQUIRED_ACKS",
	"ILLEGAL_GENERATION", "INCONSISTENT_GROUP_PROTOCOL", "INVALID_GROUP_ID",
	"UNKNOWN_MEMBER_ID", "INVALID_SESSION_TIMEOUT", "REBALANCE_IN_PROGRESS",
	"INVALID_COMMIT_OFFSET_SIZE", "TOPIC_AUTHORIZATION_FAILED", "GROUP_AUTHORIZATION_FAILED",
	"CLUSTER_AUTHORIZATION_FAILED", "INVALID_TIMESTAMP", "UNSUPPORTED_SASL_MECHANISM",
	"ILLEGAL_SASL_STATE", "UNSUPPORTED_VERSION", "TOPIC_ALREADY_EXISTS",
	"INVALID_PARTITIONS", "INVALID_REPLICATION_FACTOR", "INVALID_REPLICA_ASSIGNMENT",
	"INVALID_CONFIG", "NOT_CONTROLLER", "INVALID_REQUEST", "UNSUPPORTED_FOR_MESSAGE_FORMAT",
	"POLICY_VIOLATION", "OUT_OF_ORDER_SEQUENCE_NUMBER", "DUPLICATE_SEQUENCE_NUMBER",
	"INVALID_PRODUCER_EPOCH", "INVALID_TXN_STATE", "INVALID_PRODUCER_ID_MAPPING",
	"INVALID_TRANSACTION_TIMEOUT", "CONCURRENT_TRANSACTIONS", "TRANSACTION_COORDINATOR_FENCED",
	"TRANSACTIONAL_ID_AUTHORIZATION_FAILED", "SECURITY_DISABLED", "OPERATION_NOT_ATTEMPTED",
	"KAFKA_STORAGE_ERROR", "LOG_DIR_NOT_FOUND", "SASL_AUTHENTICATION_FAILED",
	"UNKNOWN_PRODUCER_ID", "REASSIGNMENT_IN_PROGRESS", "DELEGATION_TOKEN_AUTH_DISABLED",
	"DELEGATION_TOKEN_NOT_FOUND", "DELEGATION_TOKEN_OWNER_MISMATCH",
	"DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
	"DELEGATION_TOKEN_EXPIRED", "INVALID_PRINCIPAL_TYPE", "NON_EMPTY_GROUP",
	"GROUP_ID_NOT_FOUND", "FETCH_SESSION_ID_NOT_FOUND", "INVALID_FETCH_SESSION_EPOCH",
	"LISTENER_NOT_FOUND", "TOPIC_DELETION_DISABLED", "FENCED_LEADER_EPOCH",
	"UNKNOWN_LEADER_EPOCH", "UNSUPPORTED_COMPRESSION_TYPE", "STALE_BROKER_EPOCH",
	"OFFSET_NOT_AVAILABLE", "MEMBER_ID_REQUIRED", "PREFERRED_LEADER_NOT_AVAILABLE",
	"GROUP_MAX_SIZE_REACHED", "FENCED_INSTANCE_ID", "ELIGIBLE_LEADERS_NOT_AVAILABLE",
	"ELECTION_NOT_NEEDED", "NO_REASSIGNMENT_IN_PROGRESS", "GROUP_SUBSCRIBED_TO_TOPIC",
	"INVALID_RECORD", "UNSTABLE_OFFSET_COMMIT", "THROTTLING_QUOTA_EXCEEDED",
	"PRODUCER_FENCED", "RESOURCE_NOT_FOUND", "DUPLICATE_RESOURCE", "UNACCEPTABLE_CREDENTIAL",
	"INCONSISTENT_VOTER_SET", "INVALID_UPDATE_VERSION", "FEATURE_UPDATE_FAILED",
	"PRINCIPAL_DESERIALIZATION_FAILURE", "SNAPSHOT_NOT_FOUND", "POSITION_OUT_OF_RANGE",
	"UNKNOWN_TOPIC_ID", "DUPLICATE_BROKER_REGISTRATION", "BROKER_ID_NOT_REGISTERED",
	"INCONSISTENT_TOPIC_ID", "INCONSISTENT_CLUSTER_ID", "TRANSACTIONAL_ID_NOT_FOUND",
	"FETCH_SESSION_TOPIC_ID_ERROR", "INELIGIBLE_REPLICA", "NEW_LEADER_ELECTED",
	"OFFSET_MOVED_TO_TIERED_STORAGE", "FENCED_MEMBER_EPOCH", "UNRELEASED_INSTANCE_ID",
	"UNSUPPORTED_ASSIGNOR", "STALE_MEMBER_EPOCH", "MISMATCHED_ENDPOINT_TYPE",
	"UNSUPPORTED_ENDPOINT_TYPE", "UNKNOWN_CONTROLLER_ID", "UNKNOWN_SUBSCRIPTION_ID",
	"TELEMETRY_TOO_LARGE", "INVALID_REGISTRATION", "TRANSACTION_ABORTABLE",
}

// errorName returns the name of a non-zero Kafka error code.
func errorName(code int16) string {
	switch {
	case code == -1:
		return "UNKNOWN_SERVER_ERROR"
	case code >= 0 && int(code) < len(errorNames):
		return errorNames[code]
	}
	return "KAFKA_ERROR_" + strconv.Itoa(int(code))
}

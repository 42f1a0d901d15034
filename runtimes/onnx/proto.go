package onnx

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers of the ONNX messages this package reads or writes, as declared in onnx.proto
// (github.com/onnx/onnx, onnx/onnx.proto). Only the numbers are used; the file itself is not copied.
const (
	// ModelProto (onnx.proto: message ModelProto).
	modelIRVersion   protowire.Number = 1 // optional int64 ir_version = 1
	modelGraph       protowire.Number = 7 // optional GraphProto graph = 7
	modelOpsetImport protowire.Number = 8 // repeated OperatorSetIdProto opset_import = 8

	// OperatorSetIdProto (onnx.proto: message OperatorSetIdProto).
	opsetDomain  protowire.Number = 1 // optional string domain = 1
	opsetVersion protowire.Number = 2 // optional int64 version = 2

	// GraphProto (onnx.proto: message GraphProto).
	graphNode        protowire.Number = 1  // repeated NodeProto node = 1
	graphName        protowire.Number = 2  // optional string name = 2
	graphInitializer protowire.Number = 5  // repeated TensorProto initializer = 5
	graphInput       protowire.Number = 11 // repeated ValueInfoProto input = 11
	graphOutput      protowire.Number = 12 // repeated ValueInfoProto output = 12
	graphValueInfo   protowire.Number = 13 // repeated ValueInfoProto value_info = 13

	// NodeProto (onnx.proto: message NodeProto).
	nodeInput     protowire.Number = 1 // repeated string input = 1
	nodeOutput    protowire.Number = 2 // repeated string output = 2
	nodeName      protowire.Number = 3 // optional string name = 3
	nodeOpType    protowire.Number = 4 // optional string op_type = 4
	nodeAttribute protowire.Number = 5 // repeated AttributeProto attribute = 5
	nodeDomain    protowire.Number = 7 // optional string domain = 7

	// AttributeProto (onnx.proto: message AttributeProto).
	attrName     protowire.Number = 1  // optional string name = 1
	attrI        protowire.Number = 3  // optional int64 i = 3
	attrInts     protowire.Number = 8  // repeated int64 ints = 8
	attrType     protowire.Number = 20 // optional AttributeType type = 20
	attrTypeI    int64            = 2  // AttributeType INT = 2
	attrTypeInts int64            = 7  // AttributeType INTS = 7

	// TensorProto (onnx.proto: message TensorProto).
	tensorDims         protowire.Number = 1  // repeated int64 dims = 1
	tensorDataType     protowire.Number = 2  // optional int32 data_type = 2
	tensorSegment      protowire.Number = 3  // optional Segment segment = 3
	tensorFloatData    protowire.Number = 4  // repeated float float_data = 4 [packed = true]
	tensorInt32Data    protowire.Number = 5  // repeated int32 int32_data = 5 [packed = true]
	tensorStringData   protowire.Number = 6  // repeated bytes string_data = 6
	tensorInt64Data    protowire.Number = 7  // repeated int64 int64_data = 7 [packed = true]
	tensorName         protowire.Number = 8  // optional string name = 8
	tensorRawData      protowire.Number = 9  // optional bytes raw_data = 9
	tensorDoubleData   protowire.Number = 10 // repeated double double_data = 10 [packed = true]
	tensorUint64Data   protowire.Number = 11 // repeated uint64 uint64_data = 11 [packed = true]
	tensorExternalData protowire.Number = 13 // repeated StringStringEntryProto external_data = 13
	tensorDataLocation protowire.Number = 14 // optional DataLocation data_location = 14
	dataLocationExt    uint64           = 1  // DataLocation EXTERNAL = 1

	// StringStringEntryProto (onnx.proto: message StringStringEntryProto).
	entryKey   protowire.Number = 1 // optional string key = 1
	entryValue protowire.Number = 2 // optional string value = 2

	// ValueInfoProto (onnx.proto: message ValueInfoProto).
	valueInfoName protowire.Number = 1 // optional string name = 1
	valueInfoType protowire.Number = 2 // optional TypeProto type = 2

	// TypeProto (onnx.proto: message TypeProto, oneof value).
	typeTensor protowire.Number = 1 // Tensor tensor_type = 1

	// TypeProto.Tensor (onnx.proto: message TypeProto.Tensor).
	tensorTypeElem  protowire.Number = 1 // optional int32 elem_type = 1
	tensorTypeShape protowire.Number = 2 // optional TensorShapeProto shape = 2

	// TensorShapeProto (onnx.proto: message TensorShapeProto).
	shapeDim protowire.Number = 1 // repeated Dimension dim = 1

	// TensorShapeProto.Dimension (onnx.proto: message TensorShapeProto.Dimension, oneof value).
	dimValue protowire.Number = 1 // int64 dim_value = 1
	dimParam protowire.Number = 2 // string dim_param = 2
)

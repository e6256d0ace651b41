package scenarios

// The raw schema: what the YAML decodes into before validation. Durations,
// rates and targets stay strings here so that validation can say exactly
// what is wrong with them and where.

type rawScenario struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Duration    string      `yaml:"duration"`
	Settle      string      `yaml:"settle"`
	Seed        any         `yaml:"seed"` // whole numbers stay any: validation refuses 1.5 rather than truncate it
	Cluster     rawCluster  `yaml:"cluster"`
	Network     rawNetwork  `yaml:"network"`
	Workload    rawWorkload `yaml:"workload"`
	Faults      []rawFault  `yaml:"faults"`
	Expect      rawExpect   `yaml:"expect"`
}

type rawCluster struct {
	Brokers     rawBrokers     `yaml:"brokers"`
	Racks       []string       `yaml:"racks"`
	Controllers any            `yaml:"controllers"`
	Config      map[string]any `yaml:"config"`
	Topics      []rawTopic     `yaml:"topics"`
}

type rawTopic struct {
	Name              string         `yaml:"name"`
	Partitions        any            `yaml:"partitions"`
	ReplicationFactor any            `yaml:"replication.factor"`
	Config            map[string]any `yaml:"config"`
}

type rawLatency struct {
	Base   string `yaml:"base"`
	Jitter string `yaml:"jitter"`
	Shape  string `yaml:"shape"`
}

type rawNetwork struct {
	Latency   rawLatency `yaml:"latency"`
	Loss      float64    `yaml:"loss"`
	Duplicate float64    `yaml:"duplicate"`
	Links     []rawLink  `yaml:"links"`
}

type rawLink struct {
	From      string      `yaml:"from"`
	To        string      `yaml:"to"`
	Latency   *rawLatency `yaml:"latency"`
	Loss      *float64    `yaml:"loss"`
	Duplicate *float64    `yaml:"duplicate"`
}

type rawWorkload struct {
	Producers []rawProducer `yaml:"producers"`
	Consumers []rawConsumer `yaml:"consumers"`
}

type rawProducer struct {
	Topic       string         `yaml:"topic"`
	Rate        any            `yaml:"rate"`
	Acks        any            `yaml:"acks"`
	Idempotence *bool          `yaml:"enable.idempotence"`
	Partitions  []any          `yaml:"partitions"`
	Start       string         `yaml:"start"`
	Stop        string         `yaml:"stop"`
	Config      map[string]any `yaml:"config"`
}

type rawConsumer struct {
	Topic     string         `yaml:"topic"`
	GroupID   string         `yaml:"group.id"`
	Instances any            `yaml:"instances"`
	Config    map[string]any `yaml:"config"`
}

type rawFault struct {
	At        string       `yaml:"at"`
	For       string       `yaml:"for"`
	Crash     string       `yaml:"crash"`
	PowerLoss string       `yaml:"power-loss"`
	Stop      string       `yaml:"stop"`
	Restart   string       `yaml:"restart"`
	Pause     string       `yaml:"pause"`
	Resume    string       `yaml:"resume"`
	Isolate   string       `yaml:"isolate"`
	Partition []any        `yaml:"partition"` // groups: a list of targets, or one target such as rest
	OneWay    *rawOneWay   `yaml:"one-way"`
	Heal      string       `yaml:"heal"`
	SlowLink  *rawSlowLnk  `yaml:"slow-link"`
	Loss      *float64     `yaml:"loss"`
	Elect     *rawElect    `yaml:"elect"`
	Reassign  *rawReassign `yaml:"reassign"`
	Unclean   bool         `yaml:"unclean"`
	After     string       `yaml:"after"` // a protocol event that triggers the fault, e.g. isr-expand(orders/0)
	Delay     string       `yaml:"delay"` // how long after that event
}

type rawOneWay struct {
	From []string `yaml:"from"`
	To   []string `yaml:"to"`
}

type rawSlowLnk struct {
	From  []string `yaml:"from"`
	To    []string `yaml:"to"`
	Delay string   `yaml:"delay"`
}

// rawExpect keeps expectations as written; keys are checked in validation.
type rawExpect map[string]any

// rawBrokers is a broker count, or a list of brokers each with its
// broker.rack: [{ rack: a }, { rack: a }, { rack: b }].
type rawBrokers struct {
	Count any // nil when not given, or given as a list
	List  []rawBroker
}

type rawBroker struct {
	Rack string `yaml:"rack"`
}

// UnmarshalYAML takes the list of brokers as well as their count.
func (b *rawBrokers) UnmarshalYAML(unmarshal func(any) error) error {
	if err := unmarshal(&b.Count); err != nil {
		return err
	}
	if _, isList := b.Count.([]any); !isList {
		return nil
	}
	b.Count = nil
	b.List = []rawBroker{}
	return unmarshal(&b.List) // strictly: a misspelt key is reported
}

// rawReassign is kafka-reassign-partitions.sh's move of one partition to
// the given replicas, or of every partition off one broker.
type rawReassign struct {
	Partition       string `yaml:"partition"`
	Replicas        []any  `yaml:"replicas"`
	AllPartitionsOf string `yaml:"all-partitions-of"`
}

// rawElect is an operator's election as kafka-leader-election.sh takes it:
// a partition (elect a leader if it has none, the unclean: flag beside it
// allowing any live replica), or { partition: t/p, type: preferred |
// unclean }.
type rawElect struct {
	Partition string `yaml:"partition"`
	Type      string `yaml:"type"`
}

// UnmarshalYAML takes the partition alone as well as the mapping.
func (e *rawElect) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		e.Partition = s
		return nil
	}
	type plain rawElect
	return unmarshal((*plain)(e))
}

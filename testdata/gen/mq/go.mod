module github.com/wiretrace/wiretrace/testdata/gen/mq

go 1.25.0

require github.com/rabbitmq/amqp091-go v1.10.0
